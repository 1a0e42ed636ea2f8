"""DIMSE delivery through pynetdicom: one association per round, C-FIND before each C-STORE.

An association the PACS rejects names the reason it gave (a called or
calling AE title it does not know); one that cannot be opened names the host
and port; an association that dies in the middle of a C-STORE (the PACS
stopped) is a DeliveryError like any other, so the instance stays spooled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.pdu import A_ASSOCIATE_RJ, P_DATA_TF
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

from dmask.config.services import PacsConfig
from dmask.errors import DeliveryError, RefusedError
from dmask.export.link import Progress, describe, tls_context

_PENDING = (0xFF00, 0xFF01)
_WARNINGS = range(0xB000, 0xC000)  # stored, with a coercion or a dropped element: held all the same


@contextmanager
def associate(config: PacsConfig, contexts: list[tuple[str, str]], progress: Progress | None) -> Iterator[_DimseLink]:
    """An association with the configured PACS offering contexts and C-FIND; released on exit."""
    ae = AE(ae_title=config.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = config.timeout_seconds
    ae.connection_timeout = config.timeout_seconds
    for sop_class, syntax in sorted(set(contexts)):
        ae.add_requested_context(sop_class, syntax)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    rejection: list[A_ASSOCIATE_RJ] = []
    handlers = [(evt.EVT_PDU_RECV, lambda event: rejection.extend(
        [event.pdu] if isinstance(event.pdu, A_ASSOCIATE_RJ) else []))]
    if progress is not None:
        handlers.append((evt.EVT_PDU_SENT, lambda event: progress(
            event.pdu.pdu_length if isinstance(event.pdu, P_DATA_TF) else 0)))
    context = tls_context(config)
    tls = (context, config.host) if context is not None else None
    where = describe(config)
    try:
        assoc = ae.associate(config.host, config.port, ae_title=config.called_ae, evt_handlers=handlers,
                             tls_args=tls)
    except (OSError, RuntimeError) as error:
        raise DeliveryError(f"{where}: cannot connect ({error}); check pacs.host and pacs.port") from error
    if not assoc.is_established:
        raise DeliveryError(_refusal(where, config, rejection))
    try:
        yield _DimseLink(assoc, where)
    finally:
        if assoc.is_established:
            assoc.release()


def _refusal(where: str, config: PacsConfig, rejection: list[A_ASSOCIATE_RJ]) -> str:
    if not rejection:
        tls = "; with TLS, also pacs.tls_ca_file and that the PACS's port speaks TLS" if config.tls_ca_file else ""
        return (f"{where}: no DICOM association (nothing answers there, or it is not a DICOM port); "
                f"check pacs.host and pacs.port, and that the PACS is up{tls}")
    reason = rejection[0].reason_str
    hint = {"Called AE title not recognised": f"pacs.called_ae is {config.called_ae!r}; use the PACS's own AE title",
            "Calling AE title not recognised": f"pacs.calling_ae is {config.calling_ae!r}; "
                                               "ask the PACS administrator to register it"}
    return f"{where}: association rejected ({reason}); " + hint.get(reason, "ask the PACS administrator why")


class _DimseLink:
    def __init__(self, assoc, where: str) -> None:
        self._assoc = assoc
        self._where = where

    def holds(self, ds: Dataset) -> bool:
        """Whether a C-FIND at IMAGE level finds the SOP instance; False where the PACS will not answer C-FIND."""
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        query.StudyInstanceUID = ds.StudyInstanceUID
        query.SeriesInstanceUID = ds.SeriesInstanceUID
        query.SOPInstanceUID = ds.SOPInstanceUID
        found = False
        try:
            responses = list(self._assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
        except (RuntimeError, ValueError):  # no C-FIND context accepted: the PACS keeps duplicates out itself
            return False
        for status, identifier in responses:
            if not status:
                raise DeliveryError(f"{self._where}: the connection was lost during a C-FIND; "
                                    "the instance stays spooled")
            found |= status.Status in _PENDING and identifier is not None
        return found

    def store(self, ds: Dataset) -> None:
        try:
            status = self._assoc.send_c_store(ds)
        except (RuntimeError, ValueError) as error:  # no presentation context for this SOP class and syntax
            raise RefusedError(f"{self._where}: will not take {ds.SOPClassUID.name} in "
                                f"{ds.file_meta.TransferSyntaxUID.name} ({error})") from error
        if not status:
            raise DeliveryError(f"{self._where}: the connection was lost during the C-STORE of "
                                f"{ds.SOPInstanceUID}; it stays spooled")
        code = int(status.Status)
        if code != 0 and code not in _WARNINGS:
            raise RefusedError(f"{self._where}: refused {ds.SOPInstanceUID} (C-STORE status 0x{code:04X})")
