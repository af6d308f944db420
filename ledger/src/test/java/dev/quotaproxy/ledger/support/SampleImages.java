package dev.quotaproxy.ledger.support;

import dev.quotaproxy.ledger.support.RegistryPusher.Pushed;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A small registry's worth of content, pushed straight to the registry:
 * <ul>
 *   <li>{@code acme/app}, tags 1, 2 and latest on one image: a config, a base layer and a layer of its own;</li>
 *   <li>{@code acme/web}, tag 1: its own config and layer over the same base layer;</li>
 *   <li>{@code acme/tools/cli}, tag 1: a multi-arch index over an amd64 and an arm64 image;</li>
 *   <li>{@code other/scratch}: one uploaded blob no manifest references (the API cannot list it).</li>
 * </ul>
 */
public final class SampleImages {
  public static final String APP = "acme/app";
  public static final String WEB = "acme/web";
  public static final String CLI = "acme/tools/cli";
  public static final String SCRATCH = "other/scratch";

  public final Pushed base;
  public final Pushed appConfig;
  public final Pushed appLayer;
  public final Pushed app;
  public final Pushed webConfig;
  public final Pushed webLayer;
  public final Pushed web;
  public final Pushed amdConfig;
  public final Pushed amdLayer;
  public final Pushed amd;
  public final Pushed armConfig;
  public final Pushed armLayer;
  public final Pushed arm;
  public final Pushed index;
  public final Pushed orphan;

  private SampleImages(RegistryPusher push) {
    byte[] baseLayer = RegistryPusher.random(10_000, 1);
    base = push.blob(APP, baseLayer);
    push.blob(WEB, baseLayer);
    appConfig = push.blob(APP, 300, 2);
    appLayer = push.blob(APP, 20_000, 3);
    app = push.image(APP, "1", appConfig, base, appLayer);
    push.image(APP, "2", appConfig, base, appLayer);
    push.image(APP, "latest", appConfig, base, appLayer);

    webConfig = push.blob(WEB, 310, 4);
    webLayer = push.blob(WEB, 30_000, 5);
    web = push.image(WEB, "1", webConfig, base, webLayer);

    amdConfig = push.blob(CLI, 320, 6);
    amdLayer = push.blob(CLI, 40_000, 7);
    amd = push.imageByDigest(CLI, amdConfig, amdLayer);
    armConfig = push.blob(CLI, 330, 8);
    armLayer = push.blob(CLI, 50_000, 9);
    arm = push.imageByDigest(CLI, armConfig, armLayer);
    index = push.index(CLI, "1", amd, arm);

    orphan = push.blob(SCRATCH, 7_000, 10);
  }

  public static SampleImages push(RegistryPusher push) {
    return new SampleImages(push);
  }

  /** What each scope uses once the registry's tagged content is in the ledger (the orphan upload is not). */
  public Map<String, Long> usage() {
    Map<String, Long> usage = new LinkedHashMap<>();
    long app = sum(this.app, appConfig, base, appLayer);
    long web = sum(this.web, webConfig, base, webLayer);
    long cli = sum(index, amd, amdConfig, amdLayer, arm, armConfig, armLayer);
    usage.put("acme", app + web + cli - base.size()); // the shared layer once
    usage.put(APP, app);
    usage.put("acme/tools", cli);
    usage.put(CLI, cli);
    usage.put(WEB, web);
    return usage;
  }

  public static long sum(Pushed... pushed) {
    return Arrays.stream(pushed).mapToLong(Pushed::size).sum();
  }
}
