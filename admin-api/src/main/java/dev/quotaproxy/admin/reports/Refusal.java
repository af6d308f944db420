package dev.quotaproxy.admin.reports;

/** A request refused with a status and a message for the caller (a 400, 403 or 404), raised while preparing it. */
final class Refusal extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int status;
  final String code;

  Refusal(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }

  static Refusal badRequest(String message) {
    return new Refusal(400, "BAD_REQUEST", message);
  }

  static Refusal forbidden(String message) {
    return new Refusal(403, "FORBIDDEN", message);
  }

  static Refusal notFound(String message) {
    return new Refusal(404, "NOT_FOUND", message);
  }
}
