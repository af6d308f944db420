package dev.quotaproxy.ledger.chargeback;

import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;

/**
 * One version of the price list: unit prices from {@code effectiveFrom} (00:00 UTC) until the next
 * version's date. Unit prices are exact decimals, in one currency.
 */
public record PriceVersion(LocalDate effectiveFrom, String currency, Map<Item, BigDecimal> prices, Instant updatedAt,
    String updatedBy) {
  public PriceVersion {
    for (Item item : Item.values()) {
      if (prices.get(item) == null) {
        throw new IllegalArgumentException("a price version needs a price for " + item.label());
      }
    }
    prices = Map.copyOf(prices);
  }

  public Instant from() {
    return effectiveFrom.atStartOfDay(ZoneOffset.UTC).toInstant();
  }

  public BigDecimal price(Item item) {
    return prices.get(item);
  }

  /** Field names in the API, by item. */
  public static String field(Item item) {
    return switch (item) {
      case STORAGE -> "storage_gib_month";
      case EGRESS -> "egress_gib";
      case INGRESS -> "ingress_gib";
      case PULLS -> "pulls_1000";
    };
  }

  /** Prices as strings: exact, as stored. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("effective_from", effectiveFrom.toString()).put("currency", currency);
    for (Item item : Item.values()) {
      json.put(field(item), Money.text(price(item)));
    }
    if (updatedAt != null) {
      json.put("updated_at", updatedAt.toString()).put("updated_by", updatedBy);
    }
    return json;
  }
}
