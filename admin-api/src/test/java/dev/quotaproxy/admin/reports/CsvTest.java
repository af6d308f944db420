package dev.quotaproxy.admin.reports;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CsvTest {
  @Test
  void fieldsAreQuotedOnlyWhenTheyMustBe() {
    assertThat(Csv.field("acme/app")).isEqualTo("acme/app");
    assertThat(Csv.field("a,b")).isEqualTo("\"a,b\"");
    assertThat(Csv.field("say \"hi\"")).isEqualTo("\"say \"\"hi\"\"\"");
    assertThat(Csv.field("two\nlines")).isEqualTo("\"two\nlines\"");
    assertThat(Csv.field(" padded")).isEqualTo("\" padded\"");
    assertThat(Csv.field("")).isEmpty();
  }

  @Test
  void textThatASpreadsheetWouldRunAsAFormulaIsDefused() {
    assertThat(Csv.field("=HYPERLINK(\"http://x\")")).isEqualTo("\"'=HYPERLINK(\"\"http://x\"\")\"");
    assertThat(Csv.field("+cmd")).isEqualTo("'+cmd");
    assertThat(Csv.field("-2+3")).isEqualTo("'-2+3");
    assertThat(Csv.field("@SUM(A1)")).isEqualTo("'@SUM(A1)");
    assertThat(Csv.field("\tx")).isEqualTo("'\tx");
    assertThat(Csv.field("-1")).as("numbers stay numbers").isEqualTo("-1");
    assertThat(Csv.field("-12.5")).isEqualTo("-12.5");
    assertThat(Csv.field("alice")).isEqualTo("alice");
  }

  @Test
  void recordsEndInCrlfAndParseBack() {
    List<String> awkward = List.of("2026-03-10T00:00:00Z", "o'brien, \"the\"\r\nuser", "", "42");
    String text = Csv.line(List.of("bucket", "user", "empty", "n")) + Csv.line(awkward);
    assertThat(text).startsWith("bucket,user,empty,n\r\n");
    assertThat(parse(text)).containsExactly(List.of("bucket", "user", "empty", "n"), awkward);
  }

  /** An RFC 4180 reader, independent of the writer, for the tests. */
  static List<List<String>> parse(String text) {
    List<List<String>> records = new ArrayList<>();
    List<String> record = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          field.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        record.add(field.toString());
        field.setLength(0);
      } else if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
        record.add(field.toString());
        field.setLength(0);
        records.add(record);
        record = new ArrayList<>();
        i++;
      } else {
        field.append(c);
      }
    }
    assertThat(field.length() == 0 && record.isEmpty()).as("the text ends with a record's CRLF").isTrue();
    return records;
  }
}
