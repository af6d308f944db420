package dev.quotaproxy.ledger.chargeback;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The statement's arithmetic. Quantities and prices are exact; an amount is the exact quantity times
 * the unit price, rounded half-even to the cent once, per line; a total is the sum of its lines'
 * rounded amounts, so it always equals what the lines add up to. Quantities are shown to 6 decimals
 * (rounded half-even), but amounts are computed from the exact figure. Pure.
 */
public final class Money {
  public static final int CENTS = 2;
  public static final int QUANTITY_DECIMALS = 6;
  public static final int MAX_PRICE_DECIMALS = 8;

  private Money() {}

  /** The amount of {@code measured} (in the item's measured unit) at {@code unitPrice} per {@code perUnit}. */
  public static BigDecimal amount(BigDecimal measured, BigDecimal perUnit, BigDecimal unitPrice) {
    // One division, of exact numbers: the rounding is that of the exact rational result.
    return measured.multiply(unitPrice).divide(perUnit, CENTS, RoundingMode.HALF_EVEN);
  }

  public static BigDecimal quantity(BigDecimal measured, BigDecimal perUnit) {
    return measured.divide(perUnit, QUANTITY_DECIMALS, RoundingMode.HALF_EVEN);
  }

  /** A price as given: a non-negative decimal with at most {@value #MAX_PRICE_DECIMALS} decimals. */
  public static BigDecimal price(String field, Object given) {
    if (given == null) {
      throw new IllegalArgumentException(field + " is required");
    }
    BigDecimal price;
    try {
      price = new BigDecimal(String.valueOf(given).trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(field + " must be a decimal number like \"0.023\", not '" + given + "'");
    }
    if (price.signum() < 0) {
      throw new IllegalArgumentException(field + " must not be negative, not " + given);
    }
    if (normal(price).scale() > MAX_PRICE_DECIMALS) {
      throw new IllegalArgumentException(field + " has at most " + MAX_PRICE_DECIMALS + " decimals, not " + given);
    }
    if (price.precision() - price.scale() > 12) {
      throw new IllegalArgumentException(field + " is too large: " + given);
    }
    return normal(price);
  }

  public static BigDecimal normal(BigDecimal value) {
    BigDecimal stripped = value.stripTrailingZeros();
    return stripped.scale() < 0 ? stripped.setScale(0) : stripped;
  }

  /** Exact, plain, without trailing zeros: 0.02300000 is "0.023". */
  public static String text(BigDecimal value) {
    return normal(value).toPlainString();
  }
}
