"""Debian's Orthanc as the tests' PACS: started on loopback with a generated config.

Each instance has its own AE title, free DICOM and HTTP ports and its
storage in a temp dir, knows one calling AE title (DMASK), checks the called
AE title, and has the DICOMweb plug-in. It can be killed mid-send and
started again on the same storage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from support import free_port, make_certificate, missing

AET = "TESTPACS"
CALLING_AET = "DMASK"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
START_SECONDS = 30.0


class Orthanc:
    def __init__(self, directory: Path, tls: bool = False) -> None:
        """tls: DICOM TLS on its DICOM port, with a server certificate for 127.0.0.1 from a CA made here (ca.pem)."""
        binary = shutil.which("Orthanc")
        if binary is None or not DICOMWEB_PLUGIN.is_file():
            missing("Debian's orthanc and orthanc-dicomweb packages are not installed (.ci/run installs them: tools/install_test_services.sh)")
        self.binary = binary
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.dicom_port, self.http_port = free_port(), free_port()
        self.config_path = directory / "orthanc.json"
        self.config_path.write_text(json.dumps({
            "Name": "dmask-test", "StorageDirectory": str(directory / "storage"),
            "IndexDirectory": str(directory / "storage"), "DicomAet": AET, "DicomPort": self.dicom_port,
            "HttpPort": self.http_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True, "DicomAlwaysAllowStore": False, "DicomAlwaysAllowEcho": False,
            "DicomAlwaysAllowFind": False,
            "DicomModalities": {"dmask": {"AET": CALLING_AET, "Host": "127.0.0.1", "Port": 104,
                                          "AllowStore": True, "AllowFind": True, "AllowEcho": True}},
            "Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }))
        self.ca = directory / "ca.pem" if tls else None
        if tls:
            self._add_tls()
        self.process: subprocess.Popen | None = None

    def _add_tls(self) -> None:
        _, certificate, key = make_certificate(self.directory)
        config = json.loads(self.config_path.read_text())
        config.update({"DicomTlsEnabled": True, "DicomTlsCertificate": str(self.directory / "server.pem"),
                       "DicomTlsPrivateKey": str(self.directory / "server.key"),
                       "DicomTlsTrustedCertificates": str(self.directory / "ca.pem"),
                       "DicomTlsRemoteCertificateRequired": False})
        self.config_path.write_text(json.dumps(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        log = (self.directory / "orthanc.log").open("ab")
        self.process = subprocess.Popen([self.binary, str(self.config_path)], stdout=log, stderr=log)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.get("/system")
                return
            except OSError:
                assert self.process.poll() is None, (self.directory / "orthanc.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "Orthanc did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: a PACS that dies, not one that shuts down."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            body = response.read()
        return json.loads(body) if response.headers.get_content_type() == "application/json" else body

    def instances(self) -> list[dict]:
        """Every stored instance's main tags, with its Orthanc ID."""
        return self.get("/instances?expand")

    def file(self, orthanc_id: str) -> bytes:
        return self.get(f"/instances/{orthanc_id}/file")

    def dmask_config(self, path: Path, spool: Path, **pacs: object) -> Path:
        """A dmask YAML config delivering here (pacs overrides: e.g. port, called_ae, protocol)."""
        settings = {"host": "127.0.0.1", "port": self.dicom_port, "called_ae": AET, "calling_ae": CALLING_AET,
                    "spool_dir": str(spool), "retry_seconds": 0.2, "timeout_seconds": 10,
                    "stow_url": f"{self.url}/dicom-web", "tls_ca_file": str(self.ca or ""), **pacs}
        path.write_text(json.dumps({"dicom": {"patient_id": "PSEUDO-0042"}, "pacs": settings}))
        return path
