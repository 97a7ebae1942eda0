import CRMPluginKit
import Foundation
import Testing

/// The kit's input checks and trimming, which replaced Foundation-based
/// ones for speed: they must accept and refuse exactly what those did.
@Suite struct ValidationTests {
    @Test(arguments: ["ada@example.com", "a.b+c@sub.example.co.uk", "zoë@exämple.de", "x@y.z"])
    func emailsThatAreAccepted(_ address: String) throws {
        try Validate.email(address, "email")
    }

    @Test(arguments: ["", "ada", "@example.com", "ada@", "ada@example", "ada@.example.com", "ada@example.com.",
                      "a@b@c.d", "ada lovelace@example.com", "ada@exa\tmple.com", "ada@example\u{00A0}.com",
                      String(repeating: "a", count: 250) + "@b.cd"])
    func emailsThatAreRefusedNamingTheField(_ address: String) {
        #expect(throws: PluginError.self) { try Validate.email(address, "person.emails[0].address") }
        do { try Validate.email(address, "person.emails[0].address") } catch {
            #expect("\(error)".contains("person.emails[0].address is not an email address"))
        }
    }

    @Test(arguments: ["+1 555 010 0200", "(0)20 7946-0958", "030/1234567", "12345", "+44.20.7946.0958"])
    func phonesThatAreAccepted(_ number: String) throws {
        try Validate.phone(number, "phone")
    }

    @Test(arguments: ["", "1234", "123456789012345678901", "555-CALL-NOW", "1+2345678", "+1 555 ０１２３", "12 34 5x"])
    func phonesThatAreRefused(_ number: String) {
        #expect(throws: PluginError.self) { try Validate.phone(number, "phone") }
    }

    @Test func maxLengthCountsCharactersNotBytes() throws {
        try Validate.maxLength("ëëëëë", "name", 5)  // 10 bytes, 5 characters
        #expect(throws: PluginError.self) { try Validate.maxLength("ëëëëëë", "name", 5) }
        #expect(throws: PluginError.self) { try Validate.maxLength("abcdef", "name", 5) }
    }

    @Test(arguments: ["  Ada ", "\tAda\t", "\u{00A0}Ada\u{2003}", "Ada", "", "   ", " A d a ", "\nAda\n"])
    func trimmingMatchesFoundation(_ text: String) {
        #expect(text.trimmedSpaces == text.trimmingCharacters(in: .whitespaces))
        #expect(text.trimmedSpacesAndNewlines == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text[...].trimmedSpaces == text.trimmingCharacters(in: .whitespaces))
    }
}
