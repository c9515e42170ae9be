/* errors.c — BearSSL and TLS_ERR_* codes to sentences a user can act on
 * (BearSSL tools/errors.c idea: code -> sentence table). Alerts are named
 * as RFC 5246 §7.2 names them. Never allocates: static strings only. */
#include "tls/tls_int.h"

struct tls_err_text {
	int code;
	const char *text;
};

static const struct tls_err_text texts[] = {
	{ BR_ERR_OK, "no error" },
	{ BR_ERR_BAD_PARAM, "internal error: bad parameter" },
	{ BR_ERR_BAD_STATE, "internal error: bad state" },
	{ BR_ERR_UNSUPPORTED_VERSION, "peer does not support TLS 1.2" },
	{ BR_ERR_BAD_VERSION, "peer does not support TLS 1.2" },
	{ BR_ERR_BAD_LENGTH, "malformed TLS record (bad length)" },
	{ BR_ERR_TOO_LARGE, "TLS record too large" },
	{ BR_ERR_BAD_MAC, "TLS record failed its integrity check (data corrupted or tampered with)" },
	{ BR_ERR_NO_RANDOM, "no randomness available" },
	{ BR_ERR_UNKNOWN_TYPE, "peer is not speaking TLS (unknown record type)" },
	{ BR_ERR_UNEXPECTED, "unexpected TLS message" },
	{ BR_ERR_BAD_CCS, "malformed ChangeCipherSpec" },
	{ BR_ERR_BAD_ALERT, "malformed alert" },
	{ BR_ERR_BAD_HANDSHAKE, "malformed handshake message" },
	{ BR_ERR_OVERSIZED_ID, "oversized session id" },
	{ BR_ERR_BAD_CIPHER_SUITE, "no cipher suite in common with the peer" },
	{ BR_ERR_BAD_COMPRESSION, "peer insists on compression" },
	{ BR_ERR_BAD_FRAGLEN, "bad maximum fragment length" },
	{ BR_ERR_BAD_SECRENEG, "secure renegotiation failed" },
	{ BR_ERR_EXTRA_EXTENSION, "peer sent an extension we did not ask for" },
	{ BR_ERR_BAD_SNI, "malformed server name (SNI)" },
	{ BR_ERR_BAD_HELLO_DONE, "malformed ServerHelloDone" },
	{ BR_ERR_LIMIT_EXCEEDED, "handshake message exceeds a limit" },
	{ BR_ERR_BAD_FINISHED, "handshake Finished did not verify (man in the middle?)" },
	{ BR_ERR_RESUME_MISMATCH, "session resumption mismatch" },
	{ BR_ERR_INVALID_ALGORITHM, "peer chose an algorithm we did not offer" },
	{ BR_ERR_BAD_SIGNATURE, "handshake signature did not verify" },
	{ BR_ERR_WRONG_KEY_USAGE, "certificate key cannot be used for this cipher suite" },
	{ BR_ERR_NO_CLIENT_AUTH, "client certificate required" },
	{ BR_ERR_IO, "I/O error" },
	{ BR_ERR_X509_INVALID_VALUE, "malformed certificate (invalid value)" },
	{ BR_ERR_X509_TRUNCATED, "malformed certificate (truncated)" },
	{ BR_ERR_X509_EMPTY_CHAIN, "server sent no certificate" },
	{ BR_ERR_X509_INNER_TRUNC, "malformed certificate (inner element truncated)" },
	{ BR_ERR_X509_BAD_TAG_CLASS, "malformed certificate (bad tag class)" },
	{ BR_ERR_X509_BAD_TAG_VALUE, "malformed certificate (bad tag)" },
	{ BR_ERR_X509_INDEFINITE_LENGTH, "malformed certificate (indefinite length)" },
	{ BR_ERR_X509_EXTRA_ELEMENT, "malformed certificate (extra element)" },
	{ BR_ERR_X509_UNEXPECTED, "malformed certificate (unexpected element)" },
	{ BR_ERR_X509_NOT_CONSTRUCTED, "malformed certificate (not constructed)" },
	{ BR_ERR_X509_NOT_PRIMITIVE, "malformed certificate (not primitive)" },
	{ BR_ERR_X509_PARTIAL_BYTE, "malformed certificate (partial byte)" },
	{ BR_ERR_X509_BAD_BOOLEAN, "malformed certificate (bad boolean)" },
	{ BR_ERR_X509_OVERFLOW, "malformed certificate (value overflow)" },
	{ BR_ERR_X509_BAD_DN, "malformed certificate (bad distinguished name)" },
	{ BR_ERR_X509_BAD_TIME, "malformed certificate (bad date)" },
	{ BR_ERR_X509_UNSUPPORTED, "certificate uses an unsupported feature or key type" },
	{ BR_ERR_X509_LIMIT_EXCEEDED, "certificate exceeds a decoder limit" },
	{ BR_ERR_X509_WRONG_KEY_TYPE, "certificate key type does not match its signature" },
	{ BR_ERR_X509_BAD_SIGNATURE, "certificate signature does not verify" },
	{ BR_ERR_X509_TIME_UNKNOWN, "current time unknown: cannot check certificate dates" },
	{ BR_ERR_X509_EXPIRED, "certificate expired or not yet valid" },
	{ BR_ERR_X509_DN_MISMATCH, "certificate chain is broken (issuer/subject mismatch)" },
	{ BR_ERR_X509_BAD_SERVER_NAME, "host name mismatch (certificate is for another name)" },
	{ BR_ERR_X509_CRITICAL_EXTENSION, "certificate has an unsupported critical extension" },
	{ BR_ERR_X509_NOT_CA, "certificate chain uses a non-CA certificate as an issuer" },
	{ BR_ERR_X509_FORBIDDEN_KEY_USAGE, "certificate key usage forbids this use" },
	{ BR_ERR_X509_WEAK_PUBLIC_KEY, "certificate key is too weak" },
	{ BR_ERR_X509_NOT_TRUSTED, "certificate not trusted (unknown CA)" },
	{ TLS_ERR_PIN, "pinned fingerprint does not match" },
	{ TLS_ERR_IP_MISMATCH, "host name mismatch (IP address not in the certificate)" },
	{ TLS_ERR_LEAF_TOO_BIG, "server certificate too large to check its IP addresses" },
	{ TLS_ERR_NOT_TLS, "peer is not speaking TLS" },
	{ TLS_ERR_EOF, "peer closed the connection during the TLS handshake" },
};

/* Alerts the peer sent us (BR_ERR_RECV_FATAL_ALERT + code). */
static const struct tls_err_text recv_alerts[] = {
	{ 10, "peer says: unexpected_message" },
	{ 20, "peer says: bad_record_mac" },
	{ 40, "peer refused the handshake (handshake_failure: no common cipher suite?)" },
	{ 42, "peer refused our certificate (bad_certificate)" },
	{ 43, "peer refused our certificate (unsupported_certificate)" },
	{ 44, "peer refused our certificate (certificate_revoked)" },
	{ 45, "peer refused our certificate (certificate_expired)" },
	{ 46, "peer refused our certificate (certificate_unknown)" },
	{ 47, "peer says: illegal_parameter" },
	{ 48, "peer does not trust our certificate (unknown_ca)" },
	{ 50, "peer says: decode_error" },
	{ 51, "peer says: decrypt_error" },
	{ 70, "peer refused the protocol version (protocol_version: TLS 1.3 only?)" },
	{ 71, "peer wants stronger security (insufficient_security)" },
	{ 80, "peer had an internal error" },
	{ 90, "peer canceled the handshake (user_canceled)" },
	{ 112, "peer does not know this server name (unrecognized_name)" },
	{ 120, "peer wants another application protocol (no_application_protocol)" },
};

/* Alerts BearSSL sends when it aborts a handshake (server side). */
static const struct tls_err_text sent_alerts[] = {
	/* A TLS 1.3-only ClientHello offers no 1.2 suite: it lands here too. */
	{ 40, "no cipher suite in common with the peer (TLS 1.3 only, or no ECDHE with "
	      "AES-GCM/ChaCha20; we sent handshake_failure)" },
	{ 70, "peer does not support TLS 1.2 (we sent protocol_version)" },
	{ 86, "peer attempted a version downgrade (we sent inappropriate_fallback)" },
	{ 120, "peer wants another application protocol (we sent no_application_protocol)" },
};

static const char *find(const struct tls_err_text *t, size_t n, int code)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].text;
	return NULL;
}

const char *tls_strerror(int code)
{
	const char *s = NULL;
	if (code >= BR_ERR_SEND_FATAL_ALERT) {
		s = find(sent_alerts, sizeof(sent_alerts) / sizeof(sent_alerts[0]),
		         code - BR_ERR_SEND_FATAL_ALERT);
		return s ? s : "we aborted the handshake with a fatal alert";
	}
	if (code >= BR_ERR_RECV_FATAL_ALERT) {
		s = find(recv_alerts, sizeof(recv_alerts) / sizeof(recv_alerts[0]),
		         code - BR_ERR_RECV_FATAL_ALERT);
		return s ? s : "peer aborted with a fatal alert";
	}
	s = find(texts, sizeof(texts) / sizeof(texts[0]), code);
	return s ? s : "TLS failure";
}
