"""Data files shipped with OptiRace (installed as the package ``optirace_resources``)."""
