"""Making paho-mqtt clients from `BrokerSettings`, and naming why a connection failed.

Every failure to connect becomes a `ConnectFailure` with a cause a person can act on: the broker is
unreachable (transient: retry), or the broker's certificate is signed by an unknown CA, has expired, or
names another host, or our client certificate or credentials were refused (fatal: retrying cannot help,
so the daemon fails at startup and `edge-sdk subscribe` exits non-zero).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge_sdk.errors import PublishError
from edge_sdk.publish.settings import BrokerSettings, TlsSettings

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class ConnectFailure:
    """Why a connection attempt failed. `fatal`: retrying cannot help without a change of config."""

    cause: str  # short, stable: "unreachable", "unknown CA", "expired certificate", "refused credentials", ...
    detail: str
    fatal: bool
    fix: str = ""

    def error(self, broker: BrokerSettings) -> PublishError:
        return PublishError(f"cannot connect to the MQTT broker: {self.cause} ({self.detail})",
                            where=broker.url, fix=self.fix or None)


# OpenSSL X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code.
_UNKNOWN_CA = {2, 18, 19, 20, 21, 27, 30}
_EXPIRED = {10}
_NOT_YET_VALID = {9}
_HOSTNAME = {62, 64}

# Alerts the broker sends when it refuses our side of the TLS handshake (reason names of ssl.SSLError).
_CLIENT_CERT_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the broker refused our client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the broker does not trust the CA of our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the broker says our client certificate has expired",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the broker refused our client certificate",
    "TLSV1_ALERT_DECRYPT_ERROR": "the broker refused our client certificate",
}


def ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """A client TLS context that verifies the broker; raises PublishError naming an unreadable file."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise PublishError(f"cannot load the CA certificate: {exc}", where=f"mqtt.tls.ca_file: {tls.ca_file}",
                           fix="give the PEM file of the CA that signed the broker's certificate") from exc
    ctx.check_hostname = tls.check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if tls.cert_file and tls.key_file:
        try:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise PublishError(f"cannot load the client certificate and key: {exc}",
                               where=f"mqtt.tls.cert_file: {tls.cert_file}, key_file: {tls.key_file}",
                               fix="give a PEM certificate and its matching unencrypted PEM private key") from exc
    return ctx


def make_client(broker: BrokerSettings, client_id: str, *, persistent: bool, reconnect: bool = False,
                manual_ack: bool = False) -> mqtt.Client:
    """A paho client (callback API v2) with credentials and TLS set. Connect with `connect_args`.
    `reconnect`: let paho's own loop reconnect (subscribers); the publisher's sender does it itself.
    `manual_ack`: received QoS 1/2 messages are acknowledged by `client.ack(mid, qos)`, not by paho."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    protocol = mqtt.MQTTv5 if broker.protocol == "5" else mqtt.MQTTv311
    clean_session = None if protocol == mqtt.MQTTv5 else (not persistent)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         clean_session=clean_session, transport=broker.transport, reconnect_on_failure=reconnect,
                         manual_ack=manual_ack)
    client.connect_timeout = broker.connect_timeout_s
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls is not None:
        client.tls_set_context(ssl_context(broker.tls))
        client.tls_insecure_set(not broker.tls.check_hostname)
    return client


def connect_args(broker: BrokerSettings, *, persistent: bool) -> dict[str, Any]:
    """Keyword arguments of `Client.connect`/`connect_async`: keepalive, clean start and session expiry."""
    args: dict[str, Any] = {"host": broker.host, "port": broker.port, "keepalive": broker.keepalive_s}
    if broker.protocol == "5":
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = broker.session_expiry_s if persistent else 0
        args["clean_start"] = not persistent
        args["properties"] = props
    return args


def explain_exception(exc: BaseException, broker: BrokerSettings) -> ConnectFailure:
    """Name the cause of an exception raised while opening the connection (TCP, TLS handshake)."""
    where = f"{broker.host}:{broker.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        msg = exc.verify_message or str(exc)
        if code in _UNKNOWN_CA:
            return ConnectFailure("unknown CA", f"the broker's certificate is not signed by a trusted CA: {msg}", True,
                                  "set mqtt.tls.ca_file to the CA that signed the broker's certificate")
        if code in _EXPIRED:
            return ConnectFailure("expired certificate", f"the broker's certificate has expired: {msg}", True,
                                  "renew the broker's certificate (or check this machine's clock)")
        if code in _NOT_YET_VALID:
            return ConnectFailure("certificate not yet valid", msg, True, "check this machine's clock")
        if code in _HOSTNAME:
            return ConnectFailure("hostname mismatch", f"the broker's certificate does not name {broker.host}: {msg}",
                                  True, "connect by a name the certificate lists (subjectAltName), or reissue it")
        return ConnectFailure("certificate rejected", msg, True, "check the broker's certificate chain")
    if isinstance(exc, ssl.CertificateError):  # older match_hostname path
        return ConnectFailure("hostname mismatch", str(exc), True,
                              "connect by a name the certificate lists (subjectAltName), or reissue it")
    if isinstance(exc, ssl.SSLError):
        return explain_tls_text(f"{exc.reason or ''} {exc}") or ConnectFailure(
            "TLS error", str(exc), True, "check that the port speaks TLS and the TLS settings match the broker")
    if isinstance(exc, socket.gaierror):
        return ConnectFailure("unknown host", f"{broker.host}: {exc.strerror or exc}", False,
                              "check mqtt.host (or --broker) and DNS")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailure("unreachable", f"connection refused at {where}", False,
                              "start the broker, or check mqtt.host and mqtt.port (or --broker)")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ConnectFailure("unreachable", f"no answer from {where} within {broker.connect_timeout_s:g} s", False,
                              "check the network path and mqtt.host / mqtt.port")
    if isinstance(exc, OSError):
        return ConnectFailure("unreachable", f"{where}: {exc.strerror or exc}", False,
                              "check the network path and mqtt.host / mqtt.port")
    return ConnectFailure("error", f"{type(exc).__name__}: {exc}", False)


def explain_tls_text(text: str) -> ConnectFailure | None:
    """A TLS alert from the broker found in an error text (paho reports those as 'failed to receive')."""
    upper = text.upper()
    for alert, meaning in _CLIENT_CERT_ALERTS.items():
        if alert in upper:
            return ConnectFailure("client certificate refused", f"{meaning} ({alert.lower()})", True,
                                  "set mqtt.tls.cert_file/key_file to a certificate signed by a CA the broker trusts")
    if "WRONG_VERSION_NUMBER" in upper:
        return ConnectFailure("TLS error", "the port does not speak TLS", True,
                              "check mqtt.port (TLS is usually 8883) and that the broker's listener has TLS on")
    return None


def explain_closed(text: str, broker: BrokerSettings) -> ConnectFailure:
    """The broker closed the connection before its CONNACK; `text` is paho's last error, if any."""
    known = explain_tls_text(text)
    if known is not None:
        return known
    detail = text or "the broker closed the connection before answering CONNECT"
    if broker.tls is not None and ("EOF" in text.upper() or "RESET" in text.upper()):
        # The alert was lost in the race with the close; what a TLS broker does to a refused client cert.
        if not broker.tls.cert_file:
            return ConnectFailure("client certificate refused", f"the broker requires a client certificate ({detail})",
                                  True, "set mqtt.tls.cert_file and key_file (mutual TLS)")
        return ConnectFailure("client certificate refused", f"the broker closed the TLS connection ({detail})", True,
                              "check that the broker trusts the CA of mqtt.tls.cert_file")
    if broker.tls is None and "RESET" in text.upper():
        return ConnectFailure("connection closed", detail, False,
                              "if the broker's port expects TLS, configure mqtt.tls (and check mqtt.port)")
    return ConnectFailure("connection closed", detail, False)


def explain_connack(reason: Any, broker: BrokerSettings) -> ConnectFailure:
    """Name why the broker refused the CONNECT (paho ReasonCode, MQTT 5 numbering for 3.1.1 too)."""
    value = int(getattr(reason, "value", 0))
    name = str(reason)
    if value in (134, 140):
        return ConnectFailure("refused credentials", f"the broker answered '{name}'", True,
                              "check mqtt.username and the password (credential 'mqtt-password', mqtt.password_env)")
    if value == 135:
        who = f"user {broker.username!r}" if broker.username else "anonymous clients"
        return ConnectFailure("refused credentials", f"the broker answered 'Not authorized' for {who}", True,
                              "check mqtt.username and the password; or allow this client in the broker's ACL")
    if value == 133:
        return ConnectFailure("client id refused", f"the broker answered '{name}'", True, "set another mqtt.client_id")
    if value in (132, 1):
        return ConnectFailure("protocol refused", f"the broker answered '{name}'", True,
                              "set mqtt.protocol to a version the broker supports ('3.1.1' or '5')")
    if value == 138:
        return ConnectFailure("banned", f"the broker answered '{name}'", True, "ask the broker's operator")
    return ConnectFailure("refused", f"the broker answered '{name}' ({value})", False)
