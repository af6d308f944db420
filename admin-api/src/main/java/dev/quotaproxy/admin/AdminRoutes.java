package dev.quotaproxy.admin;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.openapi.router.RouterBuilder;

/**
 * One part of the admin listener: the contract operations it implements (by operationId, behind
 * authentication and request validation) and any routes outside the contract (pages, metrics, probes).
 */
public interface AdminRoutes {
  /** Adds handlers to this part's operations: {@code builder.getRoute("getLimits").addHandler(...)}. */
  void operations(RouterBuilder builder);

  /**
   * Public routes outside the contract (pages, metrics, probes), mounted before authentication: they have no
   * {@link Caller}. A request none of them answers goes on to authentication, whatever its path.
   */
  default void plain(Router router) {}
}
