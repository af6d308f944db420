package dev.quotaproxy.proxy;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The house's rules, read from the compiled main classes of every module (this module's test classpath
 * holds them all): modules import only those below them, and neither packages nor classes import each
 * other in a loop. The README's "Layout" section describes the same order.
 */
class ArchitectureTest {
  private static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    // Test classes (this module's, and the ledger's and metering's test jars) are not part of the house.
    ImportOption mainOnly = location -> !location.contains("/test-classes/") && !location.contains("-tests.jar");
    main = new ClassFileImporter().withImportOption(mainOnly).importPackages("dev.quotaproxy");
  }

  @Test
  void modulesImportOnlyTheModulesBelowThem() {
    layeredArchitecture().consideringOnlyDependenciesInLayers()
        .layer("config").definedBy("dev.quotaproxy.config..")
        .layer("oci").definedBy("dev.quotaproxy.oci..")
        .layer("ledger").definedBy("dev.quotaproxy.ledger..")
        .layer("metering").definedBy("dev.quotaproxy.metering..")
        .layer("admin-api").definedBy("dev.quotaproxy.admin..")
        .layer("proxy").definedBy("dev.quotaproxy.proxy..")
        .whereLayer("proxy").mayNotBeAccessedByAnyLayer()
        .whereLayer("admin-api").mayOnlyBeAccessedByLayers("proxy")
        .whereLayer("metering").mayOnlyBeAccessedByLayers("admin-api", "proxy")
        .whereLayer("ledger").mayOnlyBeAccessedByLayers("metering", "admin-api", "proxy")
        .whereLayer("oci").mayOnlyBeAccessedByLayers("ledger", "metering", "admin-api", "proxy")
        .check(main);
  }

  @Test
  void theVocabularyModulesArePure() {
    // config and oci are read by everything above them; they carry no I/O framework with them.
    noClasses().that().resideInAnyPackage("dev.quotaproxy.config..", "dev.quotaproxy.oci..")
        .should().dependOnClassesThat().resideInAnyPackage("io.vertx..", "io.netty..")
        .check(main);
  }

  @Test
  void noPackagesImportEachOtherInALoop() {
    slices().matching("dev.quotaproxy.(**)").should().beFreeOfCycles().check(main);
  }

  @Test
  void noClassesImportEachOtherInALoop() {
    // One slice per file: a nested class belongs to the class whose file holds it.
    SliceAssignment byFile = new SliceAssignment() {
      @Override
      public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
        String name = javaClass.getName();
        int nested = name.indexOf('$');
        return SliceIdentifier.of(nested < 0 ? name : name.substring(0, nested));
      }

      @Override
      public String getDescription() {
        return "the classes of one file";
      }
    };
    slices().assignedFrom(byFile).should().beFreeOfCycles().check(main);
  }
}
