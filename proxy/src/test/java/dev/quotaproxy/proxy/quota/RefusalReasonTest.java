package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import org.junit.jupiter.api.Test;

/** Every refusal QuotaErrors builds is told apart, by the reply alone, for the rejections metric. */
class RefusalReasonTest {
  @Test
  void storageLimit() {
    assertThat(RefusalReason.of(QuotaErrors.storageExceeded(new Denial("acme", 90, 5, 100, 10)))).isEqualTo(RefusalReason.STORAGE_LIMIT);
    assertThat(RefusalReason.of(QuotaErrors.storageExceeded(new Denial("acme", 100, 0, 100, 0)))).isEqualTo(RefusalReason.STORAGE_LIMIT);
  }

  @Test
  void readOnlyByWriteRatioAndForced() {
    assertThat(RefusalReason.of(QuotaErrors.registryReadOnly(96, new SystemSettings(100, 0.95, false, false, 30))))
        .isEqualTo(RefusalReason.READ_ONLY);
    assertThat(RefusalReason.of(QuotaErrors.registryReadOnly(1, new SystemSettings(-1, 1.0, true, false, 30))))
        .isEqualTo(RefusalReason.READ_ONLY);
  }

  @Test
  void egressLimit() {
    assertThat(RefusalReason.of(QuotaErrors.egressExceeded(new EgressCheck(false, "acme", 100, 100, 3600, 60))))
        .isEqualTo(RefusalReason.EGRESS_LIMIT);
  }

  @Test
  void storeUnavailable() {
    assertThat(RefusalReason.of(QuotaErrors.storeUnavailable())).isEqualTo(RefusalReason.STORE_UNAVAILABLE);
  }

  @Test
  void invalidManifest() {
    assertThat(RefusalReason.of(QuotaErrors.manifestInvalid("not JSON"))).isEqualTo(RefusalReason.INVALID_REQUEST);
  }

  @Test
  void anythingElseIsOther() {
    assertThat(RefusalReason.of(OciError.badGateway("down"))).isEqualTo(RefusalReason.OTHER);
    assertThat(RefusalReason.OTHER.label()).isEqualTo("other");
    assertThat(RefusalReason.STORAGE_LIMIT.label()).isEqualTo("storage_limit");
  }
}
