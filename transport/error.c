#include "error.h"

const char *knit_strerror(int err)
{
    switch (err) {
    case KNIT_OK: return "success";
    case KNIT_E_INVAL: return "invalid argument";
    case KNIT_E_NOMEM: return "out of memory";
    case KNIT_E_TRUNCATED: return "input is truncated";
    case KNIT_E_TOO_BIG: return "input is larger than allowed";
    case KNIT_E_MALFORMED: return "input is malformed";
    case KNIT_E_BASE58: return "invalid base58 character";
    case KNIT_E_LENGTH: return "wrong length";
    case KNIT_E_PREFIX: return "wrong type prefix";
    case KNIT_E_SIGNATURE: return "signature does not verify";
    case KNIT_E_KEY_MISMATCH: return "peer ID does not match the signing key";
    case KNIT_E_NONCANONICAL: return "encoding is not canonical";
    case KNIT_E_DUPLICATE: return "duplicate map key";
    case KNIT_E_UNKNOWN_PROTOCOL: return "unknown protocol";
    case KNIT_E_BAD_IP: return "invalid IP address";
    case KNIT_E_BAD_PORT: return "invalid port (must be 0..65535)";
    case KNIT_E_TRAILING: return "unexpected trailing data";
    case KNIT_E_TYPE: return "value has an unexpected type";
    case KNIT_E_MISSING: return "required field is missing";
    case KNIT_E_NO_SPACE: return "output buffer too small";
    case KNIT_E_AGAIN: return "more input needed";
    case KNIT_E_IO: return "I/O error";
    case KNIT_E_PERMISSIONS: return "file permissions are too open";
    case KNIT_E_NOT_FOUND: return "not found";
    case KNIT_E_DEPTH: return "nesting too deep";
    case KNIT_E_CRYPTO: return "cryptographic operation failed";
    case KNIT_E_ADDR_IN_USE: return "address already in use";
    case KNIT_E_UNSUPPORTED: return "not supported";
    case KNIT_E_SHAPE: return "components in an unsupported order";
    case KNIT_E_UNKNOWN_FIELD: return "unknown message field";
    case KNIT_E_EXISTS: return "already exists";
    case KNIT_E_DECRYPT: return "authentication failed: packet or message was forged or corrupted";
    case KNIT_E_FLOW_CONTROL: return "peer exceeded flow-control limit";
    case KNIT_E_FINAL_SIZE: return "stream final size changed or exceeded";
    case KNIT_E_STALE: return "older than what is already held";
    case KNIT_E_LIMIT: return "a configured limit is reached";
    case KNIT_E_TIMEOUT: return "no answer in time";
    case KNIT_E_REFUSED: return "the peer refused the request";
    case KNIT_E_EXPIRED: return "expired, or issued in the future";
    case KNIT_E_CANCELED: return "cancelled";
    }
    return "unknown error";
}
