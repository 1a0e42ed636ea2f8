"""DICOMweb delivery through dicomweb-client: QIDO-RS asks whether the PACS holds an instance, STOW-RS sends it."""

from __future__ import annotations

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from dmask.config.services import PacsConfig
from dmask.errors import DeliveryError, RefusedError
from dmask.export.link import describe


# HTTP statuses that refuse the one instance (a bad or unsupported dataset, a conflict), not the PACS as a whole
_REFUSALS = (400, 409, 415)


class StowLink:
    """DICOMweb: QIDO-RS to ask, STOW-RS to send."""

    def __init__(self, config: PacsConfig) -> None:
        session = requests.Session()
        if config.tls_ca_file:
            session.verify = config.tls_ca_file
        if config.tls_cert_file:
            session.cert = (config.tls_cert_file, config.tls_key_file) if config.tls_key_file else config.tls_cert_file
        self._where = describe(config)
        self._client = DICOMwebClient(config.stow_url, session=session, timeout=config.timeout_seconds)
        self._client.set_http_retry_params(retry=False)  # the spool retries, with its own backoff

    def holds(self, ds: Dataset) -> bool:
        try:
            found = self._client.search_for_instances(
                study_instance_uid=ds.StudyInstanceUID, search_filters={"SOPInstanceUID": ds.SOPInstanceUID})
        except requests.RequestException as error:
            raise DeliveryError(f"{self._where}: QIDO-RS search failed ({_http_reason(error)}); "
                                "check pacs.stow_url and that the PACS is up") from error
        return bool(found)

    def store(self, ds: Dataset) -> None:
        try:
            response = self._client.store_instances([ds])
        except requests.RequestException as error:
            response = getattr(error, "response", None)
            if response is not None and response.status_code in _REFUSALS:
                raise RefusedError(f"{self._where}: refused {ds.SOPInstanceUID} ({_http_reason(error)})") from error
            raise DeliveryError(f"{self._where}: STOW-RS failed ({_http_reason(error)}); "
                                "check pacs.stow_url and that the PACS is up") from error
        failed = response.get("FailedSOPSequence")
        if failed:
            reason = failed[0].get("FailureReason")
            raise RefusedError(f"{self._where}: the PACS refused {ds.SOPInstanceUID} (failure reason "
                               f"{'unknown' if reason is None else f'0x{int(reason):04X}'})")


def _http_reason(error: Exception) -> str:
    """An HTTP status, or what stopped the request (connection refused, a timeout, a certificate), in a few words."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS failed: check pacs.tls_ca_file"
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer in time"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect"
    return type(error).__name__
