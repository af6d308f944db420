package dev.quotaproxy.proxy.route;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Refuses, before any quota rule or upstream request runs, what the registry might execute
 * differently from how the proxy classified it. The proxy meters what it recognises; everything it
 * passes on unrecognised must be something the registry cannot execute as a write. Pure.
 *
 * <p>Refused with 400 {@code UNSUPPORTED}, in this order:
 * <ol>
 *   <li>a target that is not canonical ({@link RequestTarget}): the registry would route something
 *       other than what was classified;
 *   <li>under {@code /v2/}, a POST, PUT or PATCH with a form body, {@code application/x-www-form-urlencoded}
 *       or {@code multipart/form-data} in any Content-Type header: distribution reads {@code digest},
 *       {@code mount}, {@code from} and {@code _state} with Go's {@code r.FormValue}, which for these
 *       methods parses such a body first and prefers its values to the query's, so a closing PUT can
 *       carry its digest where the proxy does not look;
 *   <li>under {@code /v2/}, an unrecognised request ({@link OciOperation#OTHER}) other than a GET or
 *       HEAD without a body: a POST on a session URL mounts, other registries route more than
 *       distribution does, and a lower-case method is a different method to Go but not to everyone;
 *   <li>a body on an operation that carries none (reads, deletes, upload start, mount, upload status
 *       and cancel): its bytes would reach the registry unmetered.
 * </ol>
 *
 * <p>How Go reads the Content-Type for forms ({@code Request.ParseForm}, {@code parsePostForm}): only
 * for POST, PUT and PATCH; the first header value; empty counts as {@code application/octet-stream};
 * {@code mime.ParseMediaType} lower-cases and trims what precedes the first ';', and returns the type
 * even when the parameters after it are malformed. {@code multipart/form-data} is parsed by
 * {@code ParseMultipartForm}, which {@code FormValue} calls. This screen is wider than that on
 * purpose: every header value, any case, any parameters, and trailing bytes Go might trim.
 */
public final class RequestScreen {
  /** The error code of every refusal here: the request is one this proxy does not pass on. */
  public static final String CODE = "UNSUPPORTED";

  private static final Set<OciOperation> WITH_BODY = EnumSet.of(
      OciOperation.MANIFEST_PUT, OciOperation.UPLOAD_CHUNK, OciOperation.UPLOAD_COMPLETE, OciOperation.UPLOAD_MONOLITHIC);
  private static final Set<String> FORM_TYPES = Set.of("application/x-www-form-urlencoded", "multipart/form-data");
  private static final Set<String> FORM_METHODS = Set.of("POST", "PUT", "PATCH");

  private RequestScreen() {}

  /**
   * @param method       the HTTP method as received
   * @param target       the request target, parsed once
   * @param request      what the classifier made of method and target
   * @param contentTypes every Content-Type header value, in order (empty for none)
   * @param hasBody      whether a body follows: Content-Length above 0, or chunked
   * @return the error to answer with, or empty to go on
   */
  public static Optional<OciError> refusal(String method, RequestTarget target, OciRequest request,
      List<String> contentTypes, boolean hasBody) {
    if (!target.canonical()) {
      return refuse(target.problem());
    }
    if (!target.isRegistryApi()) {
      return Optional.empty();
    }
    // An empty body carries no parameters, whatever its type says (Python's urllib labels every empty PUT a form).
    if (hasBody && FORM_METHODS.contains(method.toUpperCase(Locale.ROOT))) {
      for (String contentType : contentTypes) {
        if (isForm(contentType)) {
          return refuse("a form body (Content-Type: " + contentType.strip() + ") is not accepted on " + method
              + " requests: the registry would read parameters such as digest and mount from it");
        }
      }
    }
    OciOperation operation = request.operation();
    if (operation == OciOperation.OTHER) {
      if (!method.equals("GET") && !method.equals("HEAD")) {
        return refuse(method + " " + target.path() + " is not a registry operation this proxy recognises");
      }
      if (hasBody) {
        return refuse("a " + method + " of " + target.path() + " must not carry a body");
      }
      return Optional.empty();
    }
    if (hasBody && !WITH_BODY.contains(operation)) {
      return refuse(method + " " + target.path() + " (" + operation + ") must not carry a body");
    }
    return Optional.empty();
  }

  /**
   * The media type as Go would compare it, but with anything that is not printable ASCII stripped
   * from both ends as well: Go's {@code TrimSpace} takes Unicode spaces that arrive here as two chars.
   */
  static boolean isForm(String contentType) {
    int semicolon = contentType.indexOf(';');
    String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).toLowerCase(Locale.ROOT);
    int start = 0;
    int end = type.length();
    while (start < end && !isVisibleAscii(type.charAt(start))) {
      start++;
    }
    while (end > start && !isVisibleAscii(type.charAt(end - 1))) {
      end--;
    }
    return FORM_TYPES.contains(type.substring(start, end));
  }

  private static boolean isVisibleAscii(char c) {
    return c > 0x20 && c < 0x7F;
  }

  private static Optional<OciError> refuse(String message) {
    return Optional.of(OciError.badRequest(CODE, message));
  }
}
