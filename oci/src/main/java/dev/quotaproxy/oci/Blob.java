package dev.quotaproxy.oci;

/** A content digest ({@code sha256:...}) and its size in bytes: what the proxy counts a blob or manifest by. */
public record Blob(String digest, long size) {}
