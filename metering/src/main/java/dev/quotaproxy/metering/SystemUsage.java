package dev.quotaproxy.metering;

/** Used and reserved bytes over every top-level namespace: the system scope's usage (see {@link UsageReader#systemUsage()}). */
public record SystemUsage(long used, long reserved) {}
