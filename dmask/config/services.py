"""The config sections of the services around the daemon: DICOM export and the PACS (`dicom`, `pacs`), and the live view (`view`).

They are part of the one config tree (dmask.config.Config); they live here so
that the tree's file stays short. Their cross-checks are with the rest, in
dmask.config.
"""

from __future__ import annotations

import ipaddress
import enum
import re
from dataclasses import dataclass

from dmask.config.setting import Weaker, endpoint_problem, setting
from dmask.config.dicom_values import ae_problem, long_string_problem, short_string_problem, uid_problem, uid_root_problem


class DatePolicy(str, enum.Enum):
    """What a DICOM export keeps of the recording's date (PS3.15 E.3.6); never the time of day."""

    YEAR = "year"  # 1 January of the recording's year
    SHIFT = "shift"  # the recording's date moved by dicom.date_shift_days


class PacsProtocol(str, enum.Enum):
    """How instances reach the PACS."""

    CSTORE = "cstore"  # DIMSE C-STORE (pynetdicom), the one every PACS speaks
    STOW = "stow"  # DICOMweb STOW-RS to pacs.stow_url


def _url_problem(url: str) -> str | None:
    """An empty string (none) or an http(s) URL without a user name or password in it."""
    if url == "":
        return None
    if not re.fullmatch(r"https?://[^/@\s]+(/\S*)?", url):
        return f"{url!r} is not http(s)://HOST[:PORT]/PATH without a user name or password"
    return None


@dataclass(frozen=True)
class DicomConfig:
    """Who and what a DICOM export files the recording under; nothing here comes from the video."""

    # the patient's pseudonym or worklist ID (required to export; --patient-id)
    patient_id: str = setting("", check=long_string_problem)
    # a pseudonym shown as the patient's name ("" = none)
    patient_name: str = setting("", check=long_string_problem)
    # the study to file into, e.g. a worklist entry's ("" = a new study per export or recording; --study-uid)
    study_instance_uid: str = setting("", check=uid_problem)
    accession_number: str = setting("", check=short_string_problem)
    # the organisation's UID root for generated series and instance UIDs ("" = 2.25, from a random UUID)
    uid_root: str = setting("", check=uid_root_problem)
    # the recording's date in the files: year (1 January of its year) or shift (moved by date_shift_days)
    dates: DatePolicy = setting(DatePolicy.YEAR)
    date_shift_days: int = setting(0, ge=-36500, le=36500)
    # keep the exact date and time of the recording instead (identifying: acknowledge it)
    keep_recording_time: bool = setting(False, weaker=Weaker.ABOVE)


@dataclass(frozen=True)
class PacsConfig:
    """Where `dmask record --pacs` and `dmask export dicom --pacs` deliver, and the spool that holds what is not yet there."""

    protocol: PacsProtocol = setting(PacsProtocol.CSTORE)
    host: str = setting("127.0.0.1", check=lambda v: None if v.strip() else "must not be empty")
    port: int = setting(104, ge=1, le=65535)
    called_ae: str = setting("PACS", check=ae_problem)
    calling_ae: str = setting("DMASK", check=ae_problem)
    # DICOM TLS (PS3.15 B.1): the CA bundle that signs the PACS's certificate ("" = plain TCP),
    # and this box's own certificate and key where the PACS asks for one
    tls_ca_file: str = setting("")
    tls_cert_file: str = setting("")
    tls_key_file: str = setting("")
    # DICOMweb root for protocol stow, e.g. https://pacs.example/dicom-web
    stow_url: str = setting("", check=_url_problem)
    # instances wait here (written atomically) until the PACS holds them
    spool_dir: str = setting("/var/spool/dmask", check=lambda v: None if v.strip() else "must not be empty")
    # a failed delivery is tried again after this long, doubling up to retry_max_seconds
    retry_seconds: float = setting(5.0, ge=0.1, le=3600.0)
    retry_max_seconds: float = setting(300.0, ge=0.1, le=86400.0)
    # network timeout of one association or request
    timeout_seconds: float = setting(30.0, ge=1.0, le=3600.0)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ViewConfig:
    """`dmask view`: the clinicians' live view in a browser, relaying what the daemon publishes."""

    # the daemon's publish endpoint, and CURVE keys as for dmask record (both "" = none: ipc or loopback only)
    endpoint: str = setting("tcp://127.0.0.1:5555", check=endpoint_problem)
    curve_client_secret_key: str = setting("")
    curve_server_public_key: str = setting("")
    # where browsers connect: HTTPS with the certificate below; plain HTTP only on loopback
    host: str = setting("127.0.0.1", check=lambda v: None if v.strip() else "must not be empty")
    port: int = setting(8443, ge=1, le=65535)
    tls_cert_file: str = setting("")
    tls_key_file: str = setting("")
    # clinicians and their hashed passwords (dmask view add-user)
    users_file: str = setting("/etc/dmask/view-users.json", check=lambda v: None if v.strip() else "must not be empty")
    # a login lasts this long
    session_minutes: float = setting(30.0, ge=0.01, le=1440.0)
    # this many failed logins from one address or for one user name in lockout_seconds locks it out that long
    max_failed_logins: int = setting(5, ge=1, le=100)
    lockout_seconds: float = setting(300.0, ge=1.0, le=86400.0)
    # the reverse proxies (IP addresses) whose X-Forwarded-For / -Proto are believed; none by default, so a
    # client cannot name itself another address to escape a lockout or forge the audit log
    trusted_proxies: tuple[str, ...] = setting((), check=lambda v: None if _is_address(v) else f"{v!r} is not an IP address")
    # open connections allowed from one client address and in all (below the unit's LimitNOFILE of 4096),
    # and how long a new connection may take to send its request's headers (dmask/view/guard.py)
    max_connections_per_client: int = setting(32, ge=1, le=1024)
    max_connections: int = setting(1024, ge=8, le=3072)
    header_timeout_seconds: float = setting(10.0, ge=0.5, le=300.0)
