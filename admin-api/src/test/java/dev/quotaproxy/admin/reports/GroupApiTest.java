package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.reports.ReportFixture.ADMIN;
import static dev.quotaproxy.admin.reports.ReportFixture.VIEWER;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Groups through the API: written by admins only and audited, read within grants, and reports cut by them. */
class GroupApiTest {
  private static final String PERIOD = "from=2026-03-10&to=2026-03-13";
  static ReportFixture fixture;

  @BeforeAll
  static void start() throws Exception {
    fixture = new ReportFixture();
    ReportApiTest.feed(fixture);
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  @BeforeEach
  void noGroups() throws Exception {
    fixture.sql("delete from report_groups");
    fixture.sql("delete from audit_log");
  }

  static HttpResponse<Buffer> put(String name, JsonObject body, String token) throws Exception {
    var request = fixture.client.put(fixture.server.actualPort(), "127.0.0.1", "/api/v1/groups/" + name);
    request.bearerTokenAuthentication(token);
    return request.sendJsonObject(body).await(20, TimeUnit.SECONDS);
  }

  static HttpResponse<Buffer> delete(String name, String token) throws Exception {
    return fixture.send(fixture.client.delete(fixture.server.actualPort(), "127.0.0.1", "/api/v1/groups/" + name), token);
  }

  static JsonObject scopes(String... scopes) {
    return new JsonObject().put("scopes", new JsonArray(List.of(scopes)));
  }

  @Test
  void anAdminCreatesReplacesAndDeletesAGroupAndEachChangeIsAudited() throws Exception {
    var created = put("uni", scopes("globex", "acme", "acme/team").put("description", "University"), ADMIN);
    assertThat(created.statusCode()).isEqualTo(201);
    JsonObject group = created.bodyAsJsonObject();
    assertThat(group.getJsonArray("scopes")).containsExactly("acme", "acme/team", "globex");
    assertThat(group.getJsonArray("roots")).containsExactly("acme", "globex");
    assertThat(group.getString("updated_by")).isEqualTo("ops");

    var replaced = put("uni", scopes("acme"), ADMIN);
    assertThat(replaced.statusCode()).isEqualTo(200);
    assertThat(replaced.bodyAsJsonObject().getJsonArray("scopes")).containsExactly("acme");
    assertThat(replaced.bodyAsJsonObject().getString("description")).isEmpty();

    var got = fixture.get("/api/v1/groups/uni", ADMIN);
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.bodyAsJsonObject().getJsonArray("scopes")).containsExactly("acme");
    assertThat(fixture.get("/api/v1/groups", ADMIN).bodyAsJsonObject().getJsonArray("groups")).hasSize(1);

    assertThat(delete("uni", ADMIN).statusCode()).isEqualTo(204);
    assertThat(delete("uni", ADMIN).statusCode()).isEqualTo(404);
    assertThat(fixture.get("/api/v1/groups/uni", ADMIN).statusCode()).isEqualTo(404);

    var audit = fixture.sql("select actor, action, subject, before, after from audit_log order by id");
    assertThat(audit.size()).isEqualTo(3);
    var rows = audit.iterator();
    var first = rows.next();
    assertThat(List.of(first.getString("actor"), first.getString("action"), first.getString("subject")))
        .containsExactly("ops", "group.put", "uni");
    assertThat(first.getValue("before")).isNull();
    assertThat(((JsonObject) first.getValue("after")).getJsonArray("scopes")).containsExactly("acme", "acme/team", "globex");
    var second = rows.next();
    assertThat(((JsonObject) second.getValue("before")).getString("description")).isEqualTo("University");
    var third = rows.next();
    assertThat(third.getString("action")).isEqualTo("group.delete");
    assertThat(third.getValue("after")).isNull();
  }

  @Test
  void badNamesAndScopesAreRefusedWithTheReason() throws Exception {
    assertThat(put("-dash-first", scopes("acme"), ADMIN).statusCode()).isEqualTo(400);
    assertThat(put("x".repeat(65), scopes("acme"), ADMIN).statusCode()).isEqualTo(400);
    var badScope = put("uni", scopes("acme", "Acme/App"), ADMIN);
    assertThat(badScope.statusCode()).isEqualTo(400);
    assertThat(badScope.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("scope 'Acme/App'");
    assertThat(put("uni", scopes("acme//x"), ADMIN).statusCode()).isEqualTo(400);
    assertThat(put("uni", new JsonObject().put("scopes", new JsonArray()), ADMIN).statusCode()).isEqualTo(400);
    assertThat(put("uni", scopes("acme").put("owner", "x"), ADMIN).statusCode()).isEqualTo(400);
    assertThat(fixture.sql("select count(*) from report_groups").iterator().next().getLong(0)).isZero();
    assertThat(fixture.sql("select count(*) from audit_log").iterator().next().getLong(0)).isZero();
  }

  @Test
  void viewersMayNotChangeGroupsAndSeeOnlyTheirPart() throws Exception {
    assertThat(put("uni", scopes("acme"), VIEWER).statusCode()).isEqualTo(403);
    put("uni", scopes("acme/app", "globex"), ADMIN);
    put("other", scopes("globex"), ADMIN);
    assertThat(delete("uni", VIEWER).statusCode()).isEqualTo(403);

    JsonArray visible = fixture.get("/api/v1/groups", VIEWER).bodyAsJsonObject().getJsonArray("groups");
    assertThat(visible).hasSize(1);
    assertThat(visible.getJsonObject(0).getJsonArray("scopes")).containsExactly("acme/app");
    assertThat(fixture.get("/api/v1/groups/other", VIEWER).statusCode()).isEqualTo(403);
    assertThat(fixture.get("/api/v1/reports/usage?group=other&" + PERIOD, VIEWER).statusCode()).isEqualTo(403);
    // Within its grant, the viewer's report of the group is acme/app's part only.
    JsonObject report = fixture.get("/api/v1/reports/usage?by=group&" + PERIOD, VIEWER).bodyAsJsonObject();
    assertThat(ReportApiTest.keys(report)).containsExactly("uni");
    assertThat(report.getJsonObject("totals").getLong("ingress_bytes")).isEqualTo(1500);
  }

  @Test
  void aGroupReportCountsAScopeAndItsDescendantOnce() throws Exception {
    put("uni", scopes("acme", "acme/team", "acme/app", "globex"), ADMIN);
    put("acme-only", scopes("acme/team", "acme/app"), ADMIN);
    JsonObject report = fixture.get("/api/v1/reports/usage?by=group&" + PERIOD, ADMIN).bodyAsJsonObject();

    assertThat(ReportApiTest.rows(report, "uni")).containsExactly(
        ReportApiTest.row("2026-03-10T00:00:00Z", "uni", 1500, 2, 2, 2500, 0, 2, 0),
        ReportApiTest.row("2026-03-11T00:00:00Z", "uni", 3500, 3, 3, 2000, 2000, 1, 1),
        ReportApiTest.row("2026-03-12T00:00:00Z", "uni", 3500, 3, 3, 0, 1500, 0, 1));
    // acme/team and acme/app are disjoint: the shared blob counts in each, as it does in each scope; so do their
    // repositories and manifests, one each.
    assertThat(ReportApiTest.rows(report, "acme-only")).first()
        .isEqualTo(ReportApiTest.row("2026-03-10T00:00:00Z", "acme-only", 2500, 2, 2, 2500, 0, 2, 0));

    JsonObject filtered = fixture.get("/api/v1/reports/usage?group=uni&" + PERIOD, ADMIN).bodyAsJsonObject();
    assertThat(filtered.getJsonArray("scopes")).containsExactly("acme", "globex");
    assertThat(filtered.getJsonObject("totals").getLong("ingress_bytes")).isEqualTo(4500);
    assertThat(fixture.get("/api/v1/reports/usage?group=nope&" + PERIOD, ADMIN).statusCode()).isEqualTo(404);
  }
}
