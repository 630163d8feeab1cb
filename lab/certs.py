"""The lab's PKI: one CA that signs the apiserver's serving cert, every client cert and the kubelet
stand-in's serving cert, plus the service-account signing key pair.

ECDSA P-256 throughout: key generation is ~100x faster than RSA-2048 on a 2-core machine, and
kube-apiserver accepts ECDSA for serving, client auth and ES256 service-account tokens.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class Authority:
    def __init__(self, key, cert: x509.Certificate):
        self.key, self.cert = key, cert

    @classmethod
    def create(cls, cn: str = "spoke-dc-v6-lab-ca") -> "Authority":
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def issue(self, cn: str, orgs: tuple[str, ...] = (), *, server: bool = False, client: bool = False,
              dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()):
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + \
                 ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        builder = (x509.CertificateBuilder().subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


def write_pki(pki: Path, node_ips: list[str]) -> None:
    """Writes every key and certificate the control plane and the kubelet stand-in need."""
    pki.mkdir(parents=True, exist_ok=True)
    ca = Authority.create()
    _write_cert(pki / "ca.crt", ca.cert)
    _write_key(pki / "ca.key", ca.key)

    issued = {
        # 10.0.0.1 is the `kubernetes` Service IP in --service-cluster-ip-range=10.0.0.0/16.
        "apiserver": ca.issue("kube-apiserver", server=True, ips=("127.0.0.1", "10.0.0.1"),
                              dns=("localhost", "kubernetes", "kubernetes.default",
                                   "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")),
        "admin": ca.issue("admin", ("system:masters",), client=True),
        # What the apiserver presents to kubelets (logs, exec, node proxy) and the stand-in accepts.
        "apiserver-kubelet-client": ca.issue("kube-apiserver-kubelet-client", ("system:masters",), client=True),
        # The kubelet stand-in serves every node's InternalIP with one certificate.
        "kubelet-serving": ca.issue("system:node:spoke-dc-v6-lab", ("system:nodes",), server=True,
                                    ips=tuple(node_ips)),
    }
    for name, (key, cert) in issued.items():
        _write_cert(pki / f"{name}.crt", cert)
        _write_key(pki / f"{name}.key", key)

    sa = _key()
    _write_key(pki / "sa.key", sa)
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
