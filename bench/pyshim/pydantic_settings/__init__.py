"""Just enough of pydantic-settings (v2 API) on pydantic v1 for bench/run.sh.

Debian bookworm ships FastAPI 0.92 on pydantic 1.10 and no pydantic-settings,
and PyPI is not reachable where the bench runs. The Python backend only needs
BaseSettings with a `model_config = SettingsConfigDict(...)` and
`model_copy(update=...)`; this maps them onto pydantic v1's BaseSettings
(environment variables, optional .env file, case-insensitive names).
This is a deviation from the backend's lockfile; docs/performance.md says so.
"""

from pydantic import BaseSettings as _V1Settings

_CONFIG_KEYS = {"env_file", "env_file_encoding", "case_sensitive", "extra", "env_prefix"}


def SettingsConfigDict(**kwargs):
    return dict(kwargs)


class _Meta(type(_V1Settings)):
    def __new__(mcs, name, bases, ns, **kw):
        cfg = ns.pop("model_config", None)
        if cfg:
            ns["Config"] = type("Config", (), {k: v for k, v in cfg.items() if k in _CONFIG_KEYS})
        return super().__new__(mcs, name, bases, ns, **kw)


class BaseSettings(_V1Settings, metaclass=_Meta):
    def model_copy(self, update=None, deep=False):
        return self.copy(update=update, deep=deep)
