package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A URL the registry gave, as the path and query to ask it again, and the upload id it ends with. */
class UpstreamLocationsTest {

  @ParameterizedTest
  @CsvSource({
      "/v2/a/b/blobs/uploads/u1?_state=x%3D,                                  /v2/a/b/blobs/uploads/u1?_state=x%3D, u1",
      "http://127.0.0.1:5000/v2/a/b/blobs/uploads/u2?_state=y,               /v2/a/b/blobs/uploads/u2?_state=y,    u2",
      "https://registry.example/v2/a/blobs/uploads/3f0a-11,                  /v2/a/blobs/uploads/3f0a-11,          3f0a-11"})
  void pathQueryAndUploadId(String location, String pathAndQuery, String uploadId) {
    assertThat(UpstreamLocations.pathAndQuery(location)).isEqualTo(pathAndQuery);
    assertThat(UploadStartQuota.uploadId(location)).isEqualTo(uploadId);
  }
}
