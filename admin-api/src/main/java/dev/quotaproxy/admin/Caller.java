package dev.quotaproxy.admin;

import dev.quotaproxy.config.AdminTokenConfig.Role;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * Who is calling the admin API: the name of the token presented, its role and, for a viewer, the
 * scopes granted. A grant covers the scope and every scope under it ({@code acme} covers
 * {@code acme/team/app}, not {@code acmecorp}).
 */
public record Caller(String name, Role role, List<String> grants) {
  static final String KEY = "quota-proxy.caller";

  public Caller {
    grants = List.copyOf(grants);
  }

  public boolean admin() {
    return role == Role.ADMIN;
  }

  /** Whether this caller may read the usage, limits and reports of {@code scope}. */
  public boolean mayRead(String scope) {
    if (admin()) {
      return true;
    }
    for (String grant : grants) {
      if (scope.equals(grant) || scope.startsWith(grant + "/")) {
        return true;
      }
    }
    return false;
  }

  /** The caller the authentication handler put on this request (every contract route has one). */
  public static Caller of(RoutingContext ctx) {
    Caller caller = ctx.get(KEY);
    if (caller == null) {
      throw new IllegalStateException("no caller on " + ctx.request().path() + ": the route is not behind authentication");
    }
    return caller;
  }
}
