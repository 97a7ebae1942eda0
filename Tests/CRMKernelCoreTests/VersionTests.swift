import CRMKernelCore
import Testing

@Suite struct SemanticVersionTests {
    @Test func parsesAndFillsMissingParts() throws {
        let full = try #require(SemanticVersion("1.2.3"))
        #expect((full.major, full.minor, full.patch) == (1, 2, 3))
        #expect(SemanticVersion("4")?.description == "4.0.0")
        #expect(SemanticVersion("4.5")?.description == "4.5.0")
    }

    @Test func ignoresPreReleaseTag() {
        #expect(SemanticVersion("1.2.3-beta.1") == SemanticVersion("1.2.3"))
    }

    @Test func comparesNumericallyNotTextually() throws {
        #expect(try #require(SemanticVersion("1.10.0")) > #require(SemanticVersion("1.9.9")))
        #expect(try #require(SemanticVersion("2.0.0")) > #require(SemanticVersion("1.99.99")))
    }

    @Test(arguments: ["", "x", "1.2.3.4", "1.a.3", "v1.0.0", "99999999999999999999.0.0"])
    func refusesMalformed(_ text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    /// Each of these once parsed: Int() takes a sign, and empty parts were dropped.
    @Test(arguments: ["1.", ".1", "1..2", "+1.0.0", "1.+2.0", "-1.0.0", "1.-2.0", " 1.0.0"])
    func refusesEmptyPartsAndSigns(_ text: String) {
        #expect(SemanticVersion(text) == nil)
    }
}

@Suite struct VersionRangeTests {
    private func range(_ text: String) throws -> VersionRange { try #require(VersionRange(text)) }
    private func version(_ text: String) throws -> SemanticVersion { try #require(SemanticVersion(text)) }

    @Test func emptyRangeTakesAnyVersion() throws {
        #expect(try range("").contains(version("0.0.1")))
        #expect(try range("").contains(version("99.0.0")))
    }

    @Test func everyComparatorMustHold() throws {
        let r = try range(">=1.2.0 <2.0.0")
        #expect(try r.contains(version("1.2.0")))
        #expect(try r.contains(version("1.9.9")))
        #expect(try !r.contains(version("1.1.9")))
        #expect(try !r.contains(version("2.0.0")))
    }

    @Test func eachOperator() throws {
        let v = try version("1.4.0")
        #expect(try range(">1.3.9").contains(v) && !range(">1.4.0").contains(v))
        #expect(try range("<=1.4.0").contains(v) && !range("<=1.3.9").contains(v))
        #expect(try range("<1.4.1").contains(v) && !range("<1.4.0").contains(v))
        #expect(try range("=1.4.0").contains(v) && !range("=1.4.1").contains(v))
        #expect(try range("1.4").contains(v), "a bare version means =")
    }

    @Test func caretKeepsTheMajor() throws {
        let r = try range("^1.2")
        #expect(try r.contains(version("1.2.0")))
        #expect(try r.contains(version("1.9.0")))
        #expect(try !r.contains(version("1.1.9")))
        #expect(try !r.contains(version("2.0.0")))
    }

    @Test(arguments: [">=", ">= 1.0.0", "=>1.0.0", "==1.0.0", "~1.0.0", ">=1.0.0 <x", "^", "1.0.0 || 2.0.0"])
    func refusesMalformed(_ text: String) {
        #expect(VersionRange(text) == nil)
    }

    @Test func keepsItsTextForMessages() throws {
        #expect(try range(">=1.0 <2").description == ">=1.0 <2")
    }
}
