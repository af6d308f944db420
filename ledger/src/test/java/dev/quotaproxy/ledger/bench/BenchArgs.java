package dev.quotaproxy.ledger.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code --name value} arguments of a benchmark's main, with defaults. */
final class BenchArgs {
  private final Map<String, String> values = new HashMap<>();

  BenchArgs(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 == args.length) {
        throw new IllegalArgumentException("expected --name value pairs, got: " + String.join(" ", args));
      }
      values.put(args[i].substring(2), args[++i]);
    }
  }

  String text(String name, String fallback) {
    String value = values.get(name);
    return value == null || value.isBlank() ? fallback : value;
  }

  int integer(String name, int fallback) {
    return Integer.parseInt(text(name, Integer.toString(fallback)));
  }

  List<String> list(String name, String fallback) {
    List<String> items = new ArrayList<>();
    for (String item : text(name, fallback).split(",")) {
      if (!item.isBlank()) {
        items.add(item.trim());
      }
    }
    return items;
  }
}
