"""Access control, audit and hardening ("safe people, safe settings, safe outputs").

Pages and queries use:

- :func:`security.web.current_user_principal` — who is asking (None when nobody is signed in);
- :func:`security.roles.patient_row_scope` / :func:`security.roles.require_patient_rows` — which
  patient rows they may see, as bound-parameter filters;
- :func:`security.roles.may_see_unrounded` — whether to skip disclosure control;
- :meth:`security.disclosure.Disclosure.disclose_practice` — whether one practice's own figures may
  skip it (the user may list that practice's patients);
- :func:`security.audit.record` — write the audit entry *before* returning patient rows.

See docs/security.md.
"""
