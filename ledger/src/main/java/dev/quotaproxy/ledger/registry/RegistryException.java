package dev.quotaproxy.ledger.registry;

/** The registry answered something a walk cannot go on from (a 5xx, a 401, a body that is not what the API says), or could not be reached. */
public final class RegistryException extends RuntimeException {
  RegistryException(String message) {
    super(message);
  }

  RegistryException(String message, Throwable cause) {
    super(message, cause);
  }
}
