"""The linked-extract schema contract (v1), as data.

One declaration drives the synthetic generator (which writes exactly these
tables), the validator (which checks any extract, synthetic or real, against
them) and the DuckDB loader. The prose version is ``docs/linked-extract.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = "linked-extract v1"

# Vocabularies named by the contract. Codes are strings.
SEX_CODES = ("F", "M", "U")
# NHS ETHNIC CATEGORY 16+1 (Data Dictionary); Z = not stated. Null = not recorded.
ETHNICITY_CODES = tuple("ABCDEFGHJKLMNPRSZ")
VACCINES = ("6in1", "PCV", "MenB", "Rotavirus", "HibMenC", "MMR", "MMRV", "4in1", "IPV")
POLIO_CONTAINING = ("6in1", "4in1", "IPV")
MEASLES_CONTAINING = ("MMR", "MMRV")
PRIORITY_TYPES = ("urgent_suspected_cancer", "breast_symptomatic", "screening", "consultant_upgrade")
SUSPECTED_SITES = (
    "lung",
    "breast",
    "lower_gi",
    "skin",
    "urological",
    "gynaecological",
    "upper_gi",
    "head_and_neck",
    "haematological",
    "other",
)
DIAGNOSIS_OUTCOMES = ("cancer_confirmed", "cancer_ruled_out")
STAGES = ("1", "2", "3", "4", "unknown")
ROUTES = (
    "screening",
    "urgent_referral",
    "gp_referral",
    "emergency",
    "other_outpatient",
    "inpatient_elective",
    "unknown",
)
# The oldest age a patient can have had: the oldest person on record lived to 122. A birth date further back
# than this before the patient's last known date is a placeholder (1900-01-01, 1800-01-01) or an error.
MAX_AGE_YEARS = 120
# HES ADMIMETH emergency codes: 21-28 and 2A-2D.
EMERGENCY_ADMISSION_METHODS = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")

# Regular expressions for code formats (DuckDB ``regexp_full_match`` syntax).
PATTERNS = {
    "lsoa21": r"E01\d{6}",
    "ods_practice": r"[A-Z]\d{5}",
    "ods_trust": r"[A-Z0-9]{3,5}",
    "snomed": r"\d{6,18}",
    "dmd": r"\d{6,18}",
    "icd10": r"[A-Z]\d{2}(\.?[0-9X])?\d?",
    "admission_method": r"[0-9][0-9A-Z]",
}


@dataclass(frozen=True)
class Column:
    """One required column of an extract table."""

    name: str
    dtype: str  # "string", "date" or "double"
    nullable: bool = False
    vocabulary: tuple[str, ...] | None = None  # allowed values, if closed
    pattern: str | None = None  # key into PATTERNS, if the format is fixed
    non_negative: bool = False  # a number that counts something, so never below zero


@dataclass(frozen=True)
class Table:
    """One table of the linked extract."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # columns that must be unique together
    # Date columns that must not precede the patient's birth date.
    after_birth: tuple[str, ...] = field(default=())
    # (date column, date column of the same row it must not precede), where both are given.
    not_before: tuple[tuple[str, str], ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PATIENTS = Table(
    "patients",
    (
        Column("patient_id", "string"),
        Column("birth_date", "date"),
        Column("sex", "string", vocabulary=SEX_CODES),
        Column("ethnicity", "string", nullable=True, vocabulary=ETHNICITY_CODES),
        Column("lsoa21_code", "string", nullable=True, pattern="lsoa21"),
        Column("practice_code", "string", pattern="ods_practice"),
        Column("registration_start", "date"),
        Column("registration_end", "date", nullable=True),
        Column("death_date", "date", nullable=True),
    ),
    key=("patient_id",),
    after_birth=("registration_start", "death_date"),
    not_before=(("registration_end", "registration_start"),),
)

IMMUNISATIONS = Table(
    "immunisations",
    (
        Column("patient_id", "string"),
        Column("vaccination_date", "date"),
        Column("vaccine", "string", vocabulary=VACCINES),
        Column("snomed_code", "string", nullable=True, pattern="snomed"),
    ),
    after_birth=("vaccination_date",),
)

CLINICAL_EVENTS = Table(
    "clinical_events",
    (
        Column("patient_id", "string"),
        Column("event_date", "date"),
        Column("snomed_code", "string", pattern="snomed"),
        Column("value", "double", nullable=True),
    ),
    after_birth=("event_date",),
)

MEDICATIONS = Table(
    "medications",
    (
        Column("patient_id", "string"),
        Column("issue_date", "date"),
        Column("dmd_code", "string", pattern="dmd"),
        Column("bnf_code", "string", nullable=True),
        Column("quantity", "double", non_negative=True),
    ),
    after_birth=("issue_date",),
)

HOSPITAL_EPISODES = Table(
    "hospital_episodes",
    (
        Column("patient_id", "string"),
        Column("admission_date", "date"),
        Column("discharge_date", "date", nullable=True),
        Column("provider_code", "string", pattern="ods_trust"),
        Column("admission_method", "string", pattern="admission_method"),
        Column("primary_diagnosis", "string", pattern="icd10"),
    ),
    after_birth=("admission_date",),
    # A stay that ends before it starts has a negative length; the contract's null discharge means "still in".
    not_before=(("discharge_date", "admission_date"),),
)

CANCER_PATHWAYS = Table(
    "cancer_pathways",
    (
        Column("pathway_id", "string"),
        Column("patient_id", "string"),
        Column("referral_date", "date"),
        Column("priority_type", "string", vocabulary=PRIORITY_TYPES),
        Column("suspected_site", "string", vocabulary=SUSPECTED_SITES),
        Column("provider_code", "string", pattern="ods_trust"),
        Column("diagnosis_told_date", "date", nullable=True),
        Column("diagnosis_outcome", "string", nullable=True, vocabulary=DIAGNOSIS_OUTCOMES),
        Column("decision_to_treat_date", "date", nullable=True),
        Column("treatment_start_date", "date", nullable=True),
        Column("treatment_provider_code", "string", nullable=True, pattern="ods_trust"),
    ),
    key=("pathway_id",),
    after_birth=("referral_date",),
    # A clock that stops before it starts: the engine would count a negative wait as within the standard.
    not_before=(
        ("diagnosis_told_date", "referral_date"),
        ("decision_to_treat_date", "referral_date"),
        ("treatment_start_date", "referral_date"),
        ("treatment_start_date", "decision_to_treat_date"),
    ),
)

CANCER_REGISTRATIONS = Table(
    "cancer_registrations",
    (
        Column("patient_id", "string"),
        Column("diagnosis_date", "date"),
        Column("icd10_code", "string", pattern="icd10"),
        Column("stage", "string", vocabulary=STAGES),
        Column("route", "string", vocabulary=ROUTES),
    ),
    after_birth=("diagnosis_date",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PATIENTS,
        IMMUNISATIONS,
        CLINICAL_EVENTS,
        MEDICATIONS,
        HOSPITAL_EPISODES,
        CANCER_PATHWAYS,
        CANCER_REGISTRATIONS,
    )
}
