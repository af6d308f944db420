package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RedisKeyFamily;
import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.RedisKeyFamily.Source;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.ProxyFixture;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The catalogue of Redis keys is complete: every key a real workload leaves in Redis belongs to exactly
 * one family, and every family said to come back from the ledger does, whole, after Redis lost
 * everything: recovery is complete by construction, not by a list of special cases.
 */
class RedisKeyFamilyTest {
  private static final int KiB = 1024;

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.of("""
      quota:
        scopes:
          acme: {storage-hard: 4MiB}
          acme/app: {storage-soft: 1MiB, egress: 100MiB}
          globex: {storage-hard: 10MiB}
        system:
          hard-storage: 1GiB
          write-ratio: 0.9
      """).withLedger();

  @Test
  void layoutsNameOneFamilyEach() {
    Map<String, RedisKeyFamily> samples = new TreeMap<>(Map.ofEntries(
        Map.entry("qp:{acme}:used", RedisKeyFamily.USED),
        Map.entry("qp:{acme}:res", RedisKeyFamily.RESERVATIONS),
        Map.entry("qp:{acme}:res_expiry", RedisKeyFamily.RESERVATION_EXPIRY),
        Map.entry("qp:{acme}:present:acme/team/app", RedisKeyFamily.PRESENT),
        Map.entry("qp:{acme}:links:acme/team/app", RedisKeyFamily.LINKS),
        Map.entry("qp:{acme}:refs:acme/app:sha256:" + "a".repeat(64), RedisKeyFamily.REFERENCES),
        Map.entry("qp:{acme}:refcount:acme/app", RedisKeyFamily.REFERENCE_COUNTS),
        Map.entry("qp:{acme}:manifests:acme/app", RedisKeyFamily.MANIFESTS),
        Map.entry("qp:{acme}:traffic:493922", RedisKeyFamily.TRAFFIC),
        Map.entry("qp:{acme}:egress:acme/app", RedisKeyFamily.EGRESS),
        Map.entry("qp:{acme}:epoch:3", RedisKeyFamily.MARKER),
        Map.entry("qp:{acme}:counts", RedisKeyFamily.COUNTS),
        Map.entry("qp:{acme}:slots", RedisKeyFamily.SLOTS),
        Map.entry("qp:{acme}:commits", RedisKeyFamily.COMMITS),
        Map.entry("qp:{acme}:recovering", RedisKeyFamily.RECOVERING),
        Map.entry("qp:lost", RedisKeyFamily.LOST),
        Map.entry("qp:namespaces", RedisKeyFamily.NAMESPACES),
        Map.entry("qp:ledger", RedisKeyFamily.LEDGER_BINDING),
        Map.entry("qp:ledger-lease", RedisKeyFamily.LEDGER_LEASE)));
    samples.forEach((key, family) -> assertThat(RedisKeyFamily.of(key)).as(key).containsExactly(family));
    assertThat(RedisKeyFamily.of("qp:{acme}:unknown")).isEmpty();
    assertThat(RedisKeyFamily.of("qp:{acme}:traffic:now")).isEmpty();
  }

  @Test
  void everyKeyAWorkloadLeavesBelongsToOneFamilyAndThoseOfTheLedgerComeBackWholeAfterAFlush() throws Exception {
    workload();
    await(proxy.configured().refresh());

    Map<String, Object> before = new TreeMap<>();
    Set<RedisKeyFamily> seen = EnumSet.noneOf(RedisKeyFamily.class);
    List<String> strays = new ArrayList<>();
    for (String key : keys()) {
      List<RedisKeyFamily> families = RedisKeyFamily.of(key);
      if (families.size() != 1) {
        strays.add(key + " " + families);
        continue;
      }
      seen.add(families.get(0));
      if (families.get(0).source() == Source.LEDGER) {
        before.put(key, content(key));
      }
    }
    assertThat(strays).as("keys no family (or more than one) describes").isEmpty();
    assertThat(seen).as("the workload touched every family that matters")
        .contains(RedisKeyFamily.USED, RedisKeyFamily.SIZES, RedisKeyFamily.PRESENT, RedisKeyFamily.MANIFESTS,
            RedisKeyFamily.REFERENCES, RedisKeyFamily.REFERENCE_COUNTS, RedisKeyFamily.LIMITS, RedisKeyFamily.RESERVATIONS,
            RedisKeyFamily.EVENTS, RedisKeyFamily.TRAFFIC, RedisKeyFamily.EGRESS, RedisKeyFamily.MARKER, RedisKeyFamily.NAMESPACES,
            RedisKeyFamily.SYSTEM, RedisKeyFamily.LEDGER_BINDING);

    // Some events are still only in the streams (the feed has not run since the last pushes): they must not be lost.
    proxy.harness().redis().flushAll();
    await(proxy.ledger().watch().watchOnce());
    await(proxy.configured().refresh());

    Map<String, Object> after = new TreeMap<>();
    for (String key : keys()) {
      if (RedisKeyFamily.only(key).map(family -> family.source() == Source.LEDGER).orElse(false)) {
        after.put(key, content(key));
      }
    }
    assertThat(after).isEqualTo(before);
    assertThat(proxy.ledger().outbox().recovered()).as("events Redis lost came from the proxy's copy").isPositive();
  }

  /** Pushes, a pull, a delete, a refusal: every kind of state, with events left unread in the streams. */
  private void workload() throws Exception {
    OciTestClient client = proxy.client();
    Image app = image(randomBytes(600 * KiB), randomBytes(300 * KiB));
    assertThat(client.pushImage("acme/app", "1", app).status()).isEqualTo(201);
    assertThat(client.pushImage("globex/web", "1", image(app.layers()[0])).status()).isEqualTo(201);
    byte[] loose = randomBytes(200 * KiB);
    assertThat(client.pushBlob("acme/tools", loose).status()).isEqualTo(201);
    drainFeed();
    assertThat(client.get("/v2/acme/app/blobs/" + digest(app.layers()[1])).status()).isEqualTo(200);
    assertThat(client.delete("/v2/acme/tools/blobs/" + digest(loose)).status()).isEqualTo(202);
    assertThat(client.pushBlob("acme/app", randomBytes(4 * 1024 * KiB)).status()).as("over the hard limit").isEqualTo(403);
    Image second = image(app.layers()[0], randomBytes(100 * KiB));
    assertThat(client.pushImage("acme/app", "2", second).status()).isEqualTo(201);
    // A session left open holds a reservation.
    assertThat(client.startUpload("acme/app").status()).isEqualTo(202);
  }

  private void drainFeed() throws Exception {
    for (int round = 0; round < 100 && await(proxy.ledger().feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }

  private List<String> keys() {
    List<String> keys = new ArrayList<>();
    proxy.harness().redis().command(Request.cmd(Command.KEYS).arg("*")).forEach(key -> keys.add(key.toString()));
    return keys;
  }

  /** A key's content, comparable: hashes and sets as sorted maps and sets; the census member and the marker's value left out. */
  private Object content(String key) {
    String type = proxy.harness().redis().command(Request.cmd(Command.TYPE).arg(key)).toString();
    return switch (type) {
      case "hash" -> {
        Map<String, String> fields = new TreeMap<>();
        Response all = proxy.harness().redis().command(Request.cmd(Command.HGETALL).arg(key));
        if (all.isMap()) {
          all.getKeys().forEach(field -> fields.put(field, all.get(field).toString()));
        } else {
          for (int i = 0; i + 1 < all.size(); i += 2) {
            fields.put(all.get(i).toString(), all.get(i + 1).toString());
          }
        }
        yield fields;
      }
      case "set" -> {
        Set<String> members = new TreeSet<>();
        proxy.harness().redis().command(Request.cmd(Command.SMEMBERS).arg(key)).forEach(member -> {
          if (!member.toString().startsWith(QuotaKeys.CENSUS_PREFIX)) {
            members.add(member.toString());
          }
        });
        yield members;
      }
      case "string" -> RedisKeyFamily.only(key).orElseThrow() == RedisKeyFamily.MARKER
          ? "marked"
          : proxy.harness().redis().command(Request.cmd(Command.GET).arg(key)).toString();
      default -> type;
    };
  }
}
