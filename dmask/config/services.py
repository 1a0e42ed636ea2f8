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
    """Who and what a DICOM export files the recording under; nothing here comes from the video. Give the patient per
    recording (--patient-id, --study-uid): a pseudonym or a worklist entry."""

    patient_id: str = setting("", check=long_string_problem, doc=(
        "the patient's pseudonym or worklist ID (required to export; --patient-id)"))
    patient_name: str = setting("", check=long_string_problem, doc=(
        "a pseudonym shown as the patient's name (\"\" = none)"))
    study_instance_uid: str = setting("", check=uid_problem, doc=(
        "the study to file into, e.g. a worklist entry's (\"\" = a new study per export or recording; --study-"
        "uid)"))
    accession_number: str = setting("", check=short_string_problem, doc=(
        "the accession number of the order the recording belongs to (\"\" = none)"))
    uid_root: str = setting("", check=uid_root_problem, doc=(
        "the organisation's UID root for generated series and instance UIDs (\"\" = 2.25, from a random UUID)"))
    dates: DatePolicy = setting(DatePolicy.YEAR, doc=(
        "the recording's date in the files: year (1 January of its year) or shift (moved by date_shift_days)"))
    date_shift_days: int = setting(0, ge=-36500, le=36500, doc=(
        "days the recording's date is moved by, with dates: shift (not 0)"))
    keep_recording_time: bool = setting(False, weaker=Weaker.ABOVE, doc=(
        "keep the exact date and time of the recording instead (identifying: acknowledge it)"))


@dataclass(frozen=True)
class PacsConfig:
    """Where `dmask record --pacs` and `dmask export dicom --pacs` deliver, and the spool that holds what is not yet there."""

    protocol: PacsProtocol = setting(PacsProtocol.CSTORE, doc=(
        "cstore (DIMSE C-STORE to host:port) or stow (DICOMweb STOW-RS to stow_url)"))
    host: str = setting("127.0.0.1", check=lambda v: None if v.strip() else "must not be empty", doc=(
        "the PACS's host name or address (C-STORE)"))
    port: int = setting(104, ge=1, le=65535, doc="the PACS's DICOM port (C-STORE)")
    called_ae: str = setting("PACS", check=ae_problem, doc="the PACS's AE title")
    calling_ae: str = setting("DMASK", check=ae_problem, doc="this box's AE title, as registered in the PACS")
    tls_ca_file: str = setting("", doc=(
        "DICOM TLS (PS3.15 B.1): the CA bundle that signs the PACS's certificate (\"\" = plain TCP)"))
    tls_cert_file: str = setting("", doc="DICOM TLS: this box's certificate, where the PACS asks for one")
    tls_key_file: str = setting("", doc="this box's private key for DICOM TLS, with tls_cert_file")
    stow_url: str = setting("", check=_url_problem, doc=(
        "DICOMweb root for protocol stow, e.g. https://pacs.example/dicom-web"))
    spool_dir: str = setting("/var/spool/dmask", check=lambda v: None if v.strip() else "must not be empty", doc=(
        "instances wait here (written atomically) until the PACS holds them"))
    retry_seconds: float = setting(5.0, ge=0.1, le=3600.0, doc=(
        "a failed delivery is tried again after this long, doubling up to retry_max_seconds"))
    retry_max_seconds: float = setting(300.0, ge=0.1, le=86400.0, doc="the longest wait between two delivery tries")
    timeout_seconds: float = setting(30.0, ge=1.0, le=3600.0, doc="network timeout of one association or request")


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ViewConfig:
    """`dmask view`: the clinicians' live view in a browser, relaying what the daemon publishes. Off loopback it is
    HTTPS only (both TLS files, the key readable by the dmask group only); add clinicians with
    `dmask view add-user NAME --config FILE`."""

    endpoint: str = setting("tcp://127.0.0.1:5555", check=endpoint_problem, doc="the daemon's publish endpoint")
    curve_client_secret_key: str = setting("", doc=(
        "CURVE: this viewer's secret key file, as for dmask record (\"\" = none: ipc or loopback only)"))
    curve_server_public_key: str = setting("", doc=(
        "CURVE: the daemon's public key, with curve_client_secret_key (\"\" = none)"))
    host: str = setting("127.0.0.1", check=lambda v: None if v.strip() else "must not be empty", doc=(
        "where browsers connect: HTTPS with the certificate below; plain HTTP only on loopback"))
    port: int = setting(8443, ge=1, le=65535, doc="the port browsers connect to")
    tls_cert_file: str = setting("", doc=(
        "HTTPS: the certificate browsers are shown, e.g. /etc/dmask/tls/view.pem (required off loopback)"))
    tls_key_file: str = setting("", doc=(
        "HTTPS: its private key, e.g. /etc/dmask/tls/view.key, readable by the dmask group only"))
    users_file: str = setting("/etc/dmask/view-users.json", check=lambda v: None if v.strip() else "must not be empty", doc=(
        "clinicians and their hashed passwords (dmask view add-user)"))
    session_minutes: float = setting(30.0, ge=0.01, le=1440.0, doc="a login lasts this long")
    max_failed_logins: int = setting(5, ge=1, le=100, doc=(
        "this many failed logins from one address or for one user name in lockout_seconds locks it out that "
        "long"))
    lockout_seconds: float = setting(300.0, ge=1.0, le=86400.0, doc=(
        "the window in which failed logins count, and how long a lockout lasts"))
    trusted_proxies: tuple[str, ...] = setting((), check=lambda v: None if _is_address(v) else f"{v!r} is not an IP address", doc=(
        "the reverse proxies (IP addresses) whose X-Forwarded-For / -Proto are believed; none by default, so "
        "a client cannot name itself another address to escape a lockout or forge the audit log"))
    max_connections_per_client: int = setting(32, ge=1, le=1024, doc=(
        "open connections allowed from one client address; one more is closed as it arrives"))
    max_connections: int = setting(1024, ge=8, le=3072, doc=(
        "open connections allowed in all (below the unit's LimitNOFILE of 4096)"))
    header_timeout_seconds: float = setting(10.0, ge=0.5, le=300.0, doc=(
        "a connection that sends no request headers in this long is closed"))
