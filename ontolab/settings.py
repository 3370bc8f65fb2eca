"""Settings: one pydantic model, resolved once at the edge and passed down.

Precedence, declared once in :func:`load_settings` (``_merge_layers``): explicit arguments →
``ONTOLAB_*`` environment (``ONTOLAB_HTTP__TIMEOUT_S``) → config file → defaults. The layers
are merged here against an explicit environment mapping rather than by pydantic-settings,
whose import alone would cost the CLI a tenth of a second on every command. The config
file is found by ``config=``, else ``ONTOLAB_CONFIG``, else ``./ontolab.yaml`` (absent is
fine: defaults apply).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ontolab.errors import ConfigError

CONFIG_FILENAME = "ontolab.yaml"
DEFAULT_ALLOWED_HOSTS = [
    "purl.obolibrary.org",
    "github.com",
    "*.github.com",
    "*.githubusercontent.com",
    "www.ebi.ac.uk",
    "ftp.ebi.ac.uk",
    "data.bioontology.org",
]
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Section):
    """How ontolab talks to the network."""

    timeout_s: float = Field(30.0, gt=0, description="Read/write timeout per request.")
    connect_timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(5, ge=0, le=50, description="Retries after the first attempt.")
    backoff_base_s: float = Field(0.5, ge=0, description="First retry delay; doubles each time.")
    backoff_max_s: float = Field(60.0, ge=0)
    max_retry_after_s: float = Field(300.0, ge=0, description="Longest Retry-After honoured.")
    max_redirects: int = Field(10, ge=0, le=50)
    max_download_bytes: ByteSize = Field(ByteSize(20_000_000_000))
    allowed_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS))
    allow_private_networks: bool = False
    rate_limits: dict[str, str] = Field(default_factory=dict, examples=[{"www.ebi.ac.uk": "4/s"}])
    jobs: int = Field(4, ge=1, le=64, description="Concurrent downloads.")
    user_agent: str | None = None
    verify_tls: bool = True
    lock_timeout_s: float = Field(600.0, ge=0, description="Wait for another pull of the same id.")

    @field_validator("rate_limits")
    @classmethod
    def _rates_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for host, rate in value.items():
            parse_rate(rate, where=f"http.rate_limits.{host}")
        return value


def parse_rate(rate: str, *, where: str = "rate") -> float:
    """``"4/s"``, ``"30/min"``, ``"100/hour"`` → requests per second."""
    match = _RATE.match(str(rate))
    if not match:
        raise ValueError(f"{where}: {rate!r} is not a rate like '4/s' or '30/min'")
    per = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}.get(match[2], 3600)
    return float(match[1]) / per


class OboResolverSettings(_Section):
    base_url: str = "http://purl.obolibrary.org/obo"


class OlsResolverSettings(_Section):
    base_url: str = "https://www.ebi.ac.uk/ols4"


class BioPortalResolverSettings(_Section):
    base_url: str = "https://data.bioontology.org"
    api_key_env: str = "BIOPORTAL_API_KEY"
    # Filled from the variable named by api_key_env when settings are loaded, never printed.
    api_key: SecretStr | None = None


class ResolverSettings(_Section):
    obo: OboResolverSettings = Field(default_factory=OboResolverSettings)
    ols: OlsResolverSettings = Field(default_factory=OlsResolverSettings)
    bioportal: BioPortalResolverSettings = Field(default_factory=BioPortalResolverSettings)
    default_chain: list[str] = Field(
        default_factory=lambda: ["obo", "ols"],
        description="Resolvers tried, in order, for an id with no config entry.",
    )


class ExtractSettings(_Section):
    """Archive policy. Defaults accept real ontology archives (RDF compresses ~20:1)."""

    max_entries: int = Field(10_000, ge=1)
    max_total_bytes: ByteSize = Field(ByteSize(100_000_000_000))
    max_entry_bytes: ByteSize = Field(ByteSize(50_000_000_000))
    max_ratio: float = Field(
        200.0, gt=1, description="Expanded:compressed, measured while streaming."
    )
    max_depth: int = Field(3, ge=1, le=10, description="Archives inside archives.")
    allow_symlinks: bool = False
    allow_hardlinks: bool = False


class ValidateSettings(_Section):
    """Streaming validation and optional deep validators."""

    terms_table: bool = True
    resolve_imports: bool = False
    deep_validators: list[str] = Field(default_factory=list, examples=[["rdflib", "pronto"]])
    deep_max_bytes: ByteSize = Field(ByteSize(200_000_000))
    deep_timeout_s: float = Field(600.0, gt=0)
    deep_memory_bytes: ByteSize = Field(ByteSize(4_000_000_000))
    shacl_shapes: Path | None = None
    max_xml_entities: int = Field(1000, ge=0)
    strict: bool = False


class ObsSettings(_Section):
    """Where events and metrics go besides the catalog."""

    events_max_bytes: ByteSize = Field(
        ByteSize(10_000_000), ge=1024, description="Rotate logs/events.jsonl at this size."
    )
    events_backups: int = Field(5, ge=0, le=100, description="Rotated event files kept.")
    metrics_textfile: Path | None = Field(
        None,
        description="Prometheus textfile written after pull, validate, promote and rollback "
        "(default: data_dir/metrics/ontolab.prom).",
    )
    write_textfile: bool = Field(True, description="Write the metrics textfile at all.")
    default_cadence: str | None = Field(
        None,
        description="How often each ontology should be pulled successfully, unless its own "
        "'cadence' says (default: service.refresh_every, else '1d'); exported for alerts.",
    )

    @field_validator("default_cadence")
    @classmethod
    def _cadence_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value, where="obs.default_cadence")
        return value


class ServiceSettings(_Section):
    """``ontolab serve``: where it listens, who may read the API, when it is ready."""

    host: str = Field("127.0.0.1", description="Listen address; loopback unless set.")
    port: int = Field(8765, ge=0, le=65535)
    # Set through ONTOLAB_SERVICE__TOKEN (a secret: never in the config file, never printed).
    token: SecretStr | None = Field(None, description="Bearer token the /api/v1 routes require.")
    page_size: int = Field(100, ge=1, description="Rows per API page unless ?limit= says.")
    max_page_size: int = Field(1000, ge=1, description="Largest ?limit= accepted.")
    min_free_bytes: ByteSize = Field(
        ByteSize(1_000_000_000), description="/readyz fails below this much free disk."
    )
    ready_timeout_s: float = Field(
        2.0, gt=0, description="/readyz waits this long for the catalog before failing."
    )
    refresh_every: str | None = Field(
        None, description="Pull everything in the background this often ('6h', '30m')."
    )

    @field_validator("refresh_every")
    @classmethod
    def _duration_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value, where="service.refresh_every")
        return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")


def parse_duration(text: str, *, where: str = "duration") -> float:
    """``"90s"``, ``"30m"``, ``"6h"``, ``"1d"`` → seconds.

    Examples
    --------
    >>> parse_duration("6h")
    21600.0
    """
    match = _DURATION.match(str(text))
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{where}: {text!r} is not a duration like '90s', '30m', '6h' or '1d'")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


class GateThresholds(_Section):
    """Thresholds the gate suites read as ``${name}`` (docs/gates.md says what each checks).

    Defaults let real HPO and KiSAO releases pass and reject a release that lost a tenth of its
    labels, duplicated ids or dropped a fifth of its terms.
    """

    ids_well_formed_min: float = Field(
        0.99, ge=0, le=1, description="Share of live ids shaped PREFIX:local for the ontology."
    )
    label_coverage_min: float = Field(0.95, ge=0, le=1, description="Share of terms with a label.")
    definition_coverage_min: float = Field(
        0.7, ge=0, le=1, description="Share of live terms with a definition."
    )
    parents_resolve_min: float = Field(
        0.999, ge=0, le=1, description="Share of terms whose own-prefix parents all exist."
    )
    obsolete_parent_max: float = Field(
        0.0, ge=0, le=1, description="Share of live terms allowed an obsolete parent."
    )
    term_drop_max: float = Field(
        0.2, ge=0, le=1, description="Largest drop in term count vs the previous good version."
    )
    term_growth_max: float = Field(
        10.0, ge=0, description="Largest growth vs the previous good version (10.0 = 11x)."
    )
    relabel_rate_max: float = Field(
        0.1, ge=0, le=1, description="Largest share of common terms whose label changed."
    )
    parent_churn_max: float = Field(
        0.2, ge=0, le=1, description="Largest share of common terms whose parents changed."
    )


class GatesSettings(GateThresholds):
    """Quality gates: Great Expectations suites a release must pass before it goes live."""

    enabled: bool = Field(True, description="Run gates on every new version.")
    suites: list[str] = Field(
        default_factory=lambda: ["ontology"],
        description="Shipped suite names (ontology) or paths to suite files (JSON or YAML).",
    )
    catalog_suite: str = Field(
        "catalog", description="The suite ontolab validate runs on the catalog."
    )
    report_dir: Path | None = Field(
        None, description="Where HTML reports go (default: data_dir/reports/gates)."
    )
    sample_size: int = Field(
        20, ge=0, le=1000, description="Offending values kept per expectation."
    )


class OntologyGates(_Section):
    """Per-ontology ``gates:``: turn gates off or override thresholds for one ontology."""

    enabled: bool | None = None
    id_prefix: str | None = Field(
        None,
        pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$",
        description="The ontology's id prefix, when its terms do not use its id (HP).",
    )
    ids_well_formed_min: float | None = Field(None, ge=0, le=1)
    label_coverage_min: float | None = Field(None, ge=0, le=1)
    definition_coverage_min: float | None = Field(None, ge=0, le=1)
    parents_resolve_min: float | None = Field(None, ge=0, le=1)
    obsolete_parent_max: float | None = Field(None, ge=0, le=1)
    term_drop_max: float | None = Field(None, ge=0, le=1)
    term_growth_max: float | None = Field(None, ge=0)
    relabel_rate_max: float | None = Field(None, ge=0, le=1)
    parent_churn_max: float | None = Field(None, ge=0, le=1)


class OntologyConfig(_Section):
    """One entry of ``ontologies:``."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    resolver: str | list[str] | None = None
    format: str | None = None
    url: str | None = None
    sha256: str | None = None
    version: str | None = Field(None, description="Pin a release (obo: releases/{version}).")
    product: str | None = Field(None, description="Variant file, e.g. 'base' or 'go-basic'.")
    acronym: str | None = Field(None, description="BioPortal acronym, default: id upper-case.")
    gates: OntologyGates = Field(
        default_factory=OntologyGates, description="Threshold overrides, or enabled: false."
    )
    cadence: str | None = Field(
        None,
        description="How often a pull should succeed ('1d', '7d'); default obs.default_cadence.",
    )

    @field_validator("cadence")
    @classmethod
    def _cadence_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value, where="cadence")
        return value

    @field_validator("sha256")
    @classmethod
    def _sha_hex(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.lower().removeprefix("sha256:")
            if not _SHA256.match(value):
                raise ValueError("sha256 must be 64 hexadecimal characters")
        return value

    @model_validator(mode="after")
    def _url_needs_url(self) -> OntologyConfig:
        chain = [self.resolver] if isinstance(self.resolver, str) else self.resolver or []
        if "url" in chain and not self.url:
            raise ValueError(f"ontology {self.id!r}: resolver 'url' needs a 'url' key")
        return self

    @property
    def resolvers(self) -> tuple[str, ...]:
        """The resolver chain: explicit, else ``url`` when a URL is given, else empty."""
        if isinstance(self.resolver, str):
            return (self.resolver,)
        if self.resolver:
            return tuple(self.resolver)
        return ("url",) if self.url else ()


class OntolabSettings(BaseModel):
    """Every setting ontolab reads. Build with :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    data_dir: Path = Path(".ontolab")
    catalog: str | None = Field(
        None, description="duckdb:///path (default: data_dir/catalog.duckdb)"
    )
    catalog_lock_timeout_s: float = Field(
        60.0, ge=0, description="Wait this long for another process's catalog transaction."
    )
    http: HttpSettings = Field(default_factory=HttpSettings)
    resolvers: ResolverSettings = Field(default_factory=ResolverSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    # "validate" is a pydantic method name: the attribute is validate_, the key stays "validate".
    validate_: ValidateSettings = Field(default_factory=ValidateSettings, alias="validate")
    ontologies: list[OntologyConfig] = Field(default_factory=list)
    obs: ObsSettings = Field(default_factory=ObsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    gates: GatesSettings = Field(default_factory=GatesSettings)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["console", "json"] = Field(
        "console", description="stderr log lines: key=value for people, or one JSON object each."
    )
    config_path: Path | None = Field(None, exclude=True, description="Where the file was read.")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Paths recorded in the catalog must not depend on the directory a command ran from.
        return value.expanduser().absolute()

    @model_validator(mode="after")
    def _unique_ids(self) -> OntolabSettings:
        seen: set[str] = set()
        for entry in self.ontologies:
            if entry.id in seen:
                raise ValueError(f"ontology {entry.id!r} is listed twice under 'ontologies'")
            seen.add(entry.id)
        return self

    @property
    def catalog_url(self) -> str:
        return self.catalog or f"duckdb:///{self.data_dir / 'catalog.duckdb'}"

    @property
    def metrics_textfile(self) -> Path | None:
        """Where CLI runs leave their metrics for a node-exporter textfile collector."""
        if not self.obs.write_textfile:
            return None
        return self.obs.metrics_textfile or self.data_dir / "metrics" / "ontolab.prom"

    def cadences(self) -> dict[str, float]:
        """Each configured ontology's expected cadence in seconds: its ``cadence``, else
        ``obs.default_cadence``, else ``service.refresh_every``, else one day."""
        fallback = self.obs.default_cadence or self.service.refresh_every or "1d"
        return {o.id: parse_duration(o.cadence or fallback) for o in self.ontologies}

    def ontology(self, ontology_id: str) -> OntologyConfig | None:
        """The config entry for ``ontology_id`` (case-insensitive), if any."""
        wanted = ontology_id.lower()
        return next((o for o in self.ontologies if o.id.lower() == wanted), None)


def find_config(config: str | os.PathLike[str] | None, environ: dict[str, str]) -> Path | None:
    """``config`` → ``$ONTOLAB_CONFIG`` → ``./ontolab.yaml``; None when nothing exists."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", path=str(path))
        return path
    if environ.get("ONTOLAB_CONFIG"):
        path = Path(environ["ONTOLAB_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"ONTOLAB_CONFIG points at {path}, which does not exist")
        return path
    default = Path(CONFIG_FILENAME)
    return default if default.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings", path=str(path))
    return data


def _explain(exc: ValidationError, origin: str) -> ConfigError:
    lines = []
    codes = set()
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            codes.add("E_CONFIG_UNKNOWN_KEY")
            lines.append(f"unknown key '{key}'")
        else:
            codes.add("E_CONFIG_INVALID")
            lines.append(f"'{key}': {err['msg']}")
    code = "E_CONFIG_UNKNOWN_KEY" if codes == {"E_CONFIG_UNKNOWN_KEY"} else "E_CONFIG_INVALID"
    return ConfigError(f"invalid settings in {origin}: " + "; ".join(lines), code=code, path=origin)


def load_settings(
    config: str | os.PathLike[str] | OntolabSettings | None = None,
    *,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> OntolabSettings:
    """Resolve settings from arguments, ``ONTOLAB_*`` environment, config file and defaults.

    Parameters
    ----------
    config
        A config file path, or settings to return as they are (with ``overrides`` applied).
    environ
        The environment to read (default: ``os.environ``); tests pass their own.
    overrides
        Top-level keys that win over everything else (``data_dir=...``).

    Examples
    --------
    >>> s = load_settings(environ={}, data_dir="/tmp/x")
    >>> str(s.data_dir), s.http.retries
    ('/tmp/x', 5)
    """
    if isinstance(config, OntolabSettings):
        return config.model_copy(update=overrides) if overrides else config
    env = dict(os.environ if environ is None else environ)
    path = find_config(config, env)
    file_data = _read_yaml(path) if path else {}
    if path is not None:
        base = path.parent
        # Relative paths in a config file are relative to the file, like pip and pytest.
        if "data_dir" in file_data and not Path(str(file_data["data_dir"])).is_absolute():
            file_data["data_dir"] = str(base / str(file_data["data_dir"]))
        catalog = file_data.get("catalog")
        if isinstance(catalog, str) and catalog.startswith("duckdb:///"):
            rel = catalog.removeprefix("duckdb:///")
            if rel and not Path(rel).is_absolute():
                file_data["catalog"] = f"duckdb:///{base / rel}"
    origin = str(path) if path else "environment"
    try:
        layers = _merge_layers(file_data, _env_layer(env), overrides)
        settings = OntolabSettings(**layers, config_path=path)
    except ValidationError as exc:
        raise _explain(exc, origin) from exc
    return _with_secrets(settings, env)


def _merge_layers(*layers: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; later layers win (file → environment → arguments)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge_layers(merged[key], value)
            else:
                merged[key] = value
    return merged


def _env_layer(env: dict[str, str]) -> dict[str, Any]:
    """``ONTOLAB_HTTP__TIMEOUT_S=5`` → ``{"http": {"timeout_s": 5}}``; values read as YAML."""
    known_top = {
        field.alias or name
        for name, field in OntolabSettings.model_fields.items()
        if name != "config_path"
    }
    layer: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith("ONTOLAB_") or name == "ONTOLAB_CONFIG":
            continue
        path = [part.lower() for part in name.removeprefix("ONTOLAB_").split("__")]
        if path[0] not in known_top:
            raise ConfigError(
                f"environment variable {name} names no setting "
                f"(known: {', '.join(sorted(known_top))})",
                code="E_CONFIG_UNKNOWN_KEY",
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return layer


def _with_secrets(settings: OntolabSettings, env: dict[str, str]) -> OntolabSettings:
    bioportal = settings.resolvers.bioportal
    key = env.get(bioportal.api_key_env)
    if not key or bioportal.api_key is not None:
        return settings
    resolvers = settings.resolvers.model_copy(
        update={"bioportal": bioportal.model_copy(update={"api_key": SecretStr(key)})}
    )
    return settings.model_copy(update={"resolvers": resolvers})


STARTER_CONFIG = """\
# ontolab configuration. Every key also has an environment form: ONTOLAB_<SECTION>__<KEY>.
data_dir: .ontolab                      # artifact store, staging, locks, default catalog
# catalog: duckdb:///.ontolab/catalog.duckdb
http:
  timeout_s: 30
  retries: 5
  max_download_bytes: 20GB
  allowed_hosts: [purl.obolibrary.org, github.com, "*.github.com", "*.githubusercontent.com",
                  www.ebi.ac.uk, ftp.ebi.ac.uk, data.bioontology.org]
  allow_private_networks: false         # loopback/private ranges only when listed above
  rate_limits: {www.ebi.ac.uk: 4/s}
resolvers:
  obo: {base_url: http://purl.obolibrary.org/obo}
  ols: {base_url: https://www.ebi.ac.uk/ols4}
  bioportal: {base_url: https://data.bioontology.org, api_key_env: BIOPORTAL_API_KEY}
ontologies:
  - id: hp
    resolver: obo
    format: obo
  # - id: go
  #   resolver: [obo, ols]            # fallback chain: first success wins
  #   product: go-basic
  # - id: kisao
  #   resolver: url
  #   url: https://example.org/kisao.owl
  #   sha256: <64 hex>                # optional pin: a mismatch is an error
"""
