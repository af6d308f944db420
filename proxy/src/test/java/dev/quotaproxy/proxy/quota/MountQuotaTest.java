package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MountQuotaTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      /v2/a/blobs/uploads/?mount=sha256:1&from=b         | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/?from=b%2Fc&mount=sha256:1     | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/?mount=sha256:1&x=1&from=b     | /v2/a/blobs/uploads/?x=1
      /v2/a/blobs/uploads/?mount=sha256:1                | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/                               | /v2/a/blobs/uploads/
      """)
  void aMountWhoseSizeIsUnknownBecomesAPlainUploadStart(String uri, String expected) {
    assertThat(MountQuota.withoutMount(uri)).isEqualTo(expected);
  }
}
