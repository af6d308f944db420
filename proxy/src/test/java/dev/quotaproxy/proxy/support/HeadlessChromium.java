package dev.quotaproxy.proxy.support;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's headless {@code chromium} driven over the DevTools protocol, for pages that are used rather than
 * only rendered (the console's forms): open a page, type into a field, click, wait for what the page says
 * in its DOM, take a screenshot. {@code --dump-dom} (the report page's tests) cannot type. Skipped where
 * chromium is missing, unless {@code REQUIRE_TEST_TOOLS=1}.
 */
public final class HeadlessChromium implements AutoCloseable {
  private static final Path BINARY = Path.of("/usr/bin/chromium");
  private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://[^/]+)/");

  private final Process process;
  private final Path profile;
  private final WebSocket page;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();

  public static void assumeInstalled() {
    boolean installed = Files.isExecutable(BINARY);
    if (!installed && "1".equals(System.getenv("REQUIRE_TEST_TOOLS"))) {
      throw new IllegalStateException(BINARY + " is required (REQUIRE_TEST_TOOLS=1) but not installed");
    }
    Assumptions.assumeTrue(installed, BINARY + " not installed (Debian package chromium); skipping");
  }

  /** Starts chromium on a fresh profile with one blank page, and attaches to that page. */
  public static HeadlessChromium start() throws Exception {
    assumeInstalled();
    return new HeadlessChromium();
  }

  private HeadlessChromium() throws Exception {
    profile = Files.createTempDirectory("console-chromium");
    process = new ProcessBuilder(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile, "--window-size=1400,1100", "--remote-debugging-port=0", "--remote-allow-origins=*",
        "about:blank")).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String origin = devToolsOrigin();
    HttpClient http = HttpClient.newHttpClient();
    String targets = http.send(HttpRequest.newBuilder(URI.create(origin.replace("ws://", "http://") + "/json/list")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    String pageUrl = new io.vertx.core.json.JsonArray(targets).stream().map(JsonObject.class::cast)
        .filter(target -> target.getString("type").equals("page")).findFirst()
        .orElseThrow(() -> new IllegalStateException("no page target in " + targets)).getString("webSocketDebuggerUrl");
    page = http.newWebSocketBuilder().buildAsync(URI.create(pageUrl), new Listener()).get(20, TimeUnit.SECONDS);
  }

  /** Chromium prints its DevTools address on stderr once it listens. */
  private String devToolsOrigin() throws IOException {
    BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
    StringBuilder seen = new StringBuilder();
    for (String line; (line = err.readLine()) != null;) {
      Matcher listening = LISTENING.matcher(line);
      if (listening.find()) {
        // Keep draining stderr, or chromium blocks once the pipe is full.
        Thread drain = new Thread(() -> err.lines().forEach(ignored -> {}), "chromium-stderr");
        drain.setDaemon(true);
        drain.start();
        return listening.group(1);
      }
      seen.append(line).append('\n');
    }
    throw new IllegalStateException("chromium exited before its DevTools listened:\n" + seen);
  }

  /** One DevTools command on the page; its result. */
  public JsonObject send(String method, JsonObject params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonObject> answer = new CompletableFuture<>();
    pending.put(id, answer);
    page.sendText(new JsonObject().put("id", id).put("method", method).put("params", params).encode(), true).get(10, TimeUnit.SECONDS);
    JsonObject reply = answer.get(30, TimeUnit.SECONDS);
    if (reply.containsKey("error")) {
      throw new IllegalStateException(method + " failed: " + reply.getJsonObject("error"));
    }
    return reply.getJsonObject("result");
  }

  public void open(String url) throws Exception {
    send("Page.navigate", new JsonObject().put("url", url));
    waitFor("document.readyState === 'complete'", Duration.ofSeconds(20));
  }

  /** Evaluates an expression in the page (promises awaited); its value as JSON can carry it. */
  public Object eval(String expression) throws Exception {
    JsonObject result = send("Runtime.evaluate", new JsonObject().put("expression", expression).put("awaitPromise", true)
        .put("returnByValue", true));
    if (result.containsKey("exceptionDetails")) {
      throw new IllegalStateException(expression + " threw: " + result.getJsonObject("exceptionDetails"));
    }
    return result.getJsonObject("result").getValue("value");
  }

  public String text(String selector) throws Exception {
    return (String) eval("document.querySelector(" + quote(selector) + ").textContent");
  }

  public String attribute(String selector, String name) throws Exception {
    return (String) eval("document.querySelector(" + quote(selector) + ").getAttribute(" + quote(name) + ")");
  }

  /** Empties the field, then types the text into it as keyboard input would. */
  public void type(String selector, String text) throws Exception {
    eval("(() => { const f = document.querySelector(" + quote(selector) + "); f.focus(); f.select(); f.value = ''; return true; })()");
    send("Input.insertText", new JsonObject().put("text", text));
  }

  public void click(String selector) throws Exception {
    eval("document.querySelector(" + quote(selector) + ").click()");
  }

  /** Waits until the expression is true in the page; fails with what the page's status line said. */
  public void waitFor(String expression, Duration timeout) throws Exception {
    Instant deadline = Instant.now().plus(timeout);
    while (!Boolean.TRUE.equals(eval("!!(" + expression + ")"))) {
      if (Instant.now().isAfter(deadline)) {
        throw new AssertionError("not true within " + timeout + ": " + expression + "; the page says: "
            + eval("(document.getElementById('status') || document.body).textContent"));
      }
      Thread.sleep(50);
    }
  }

  /** The whole page, not only the window: the page's own size, as far down as it goes. */
  public void screenshot(Path file) throws Exception {
    JsonObject size = send("Page.getLayoutMetrics", new JsonObject()).getJsonObject("cssContentSize");
    JsonObject clip = new JsonObject().put("x", 0).put("y", 0).put("width", size.getDouble("width"))
        .put("height", size.getDouble("height")).put("scale", 1);
    String png = send("Page.captureScreenshot", new JsonObject().put("format", "png").put("captureBeyondViewport", true)
        .put("clip", clip)).getString("data");
    Files.write(file, Base64.getDecoder().decode(png));
  }

  private static String quote(String text) {
    return new io.vertx.core.json.JsonArray().add(text).encode().replaceAll("^\\[|\\]$", "");
  }

  /** Closes the browser as a user would (its helpers end with it), then removes the profile, best effort. */
  @Override
  public void close() throws Exception {
    try {
      // Not awaited: the connection may end with the browser before a reply.
      page.sendText(new JsonObject().put("id", ids.incrementAndGet()).put("method", "Browser.close").encode(), true).get(5,
          TimeUnit.SECONDS);
    } catch (Exception alreadyGone) {
      // destroyed below
    }
    page.abort();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    try (var files = Files.walk(profile)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
    } catch (IOException | java.io.UncheckedIOException leftOver) {
      // a temporary directory: what is left is removed with the others
    }
  }

  /** Replies matched to their command by id; events are not used. Large replies (screenshots) come in parts. */
  private final class Listener implements WebSocket.Listener {
    private final StringBuilder message = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
      message.append(data);
      if (last) {
        JsonObject reply = new JsonObject(message.toString());
        message.setLength(0);
        Integer id = reply.getInteger("id");
        if (id != null && pending.containsKey(id)) {
          pending.remove(id).complete(reply);
        }
      }
      socket.request(1);
      return null;
    }
  }
}
