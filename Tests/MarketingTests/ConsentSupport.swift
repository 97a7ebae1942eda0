import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// A crmd with contacts and marketing, and clients for both.
struct ConsentWorld {
    let crmd: CrmdProcess
    let marketing: MarketingClient
    let contacts: ContactsClient

    init(environment: [String: String] = [:]) throws {
        crmd = try CrmdProcess(plugins: ["contacts", "marketing"], environment: environment)
        let connection = try crmd.connect()
        marketing = MarketingClient(connection: connection)
        contacts = ContactsClient(connection: connection)
    }

    var database: DatabaseFile { DatabaseFile(dataDir: crmd.dir + "/data") }

    func person(_ first: String, email: String = "", phone: String = "") async throws -> Int64 {
        try await contacts.createPerson(first, "Tester", email: email, phone: phone).id
    }

    /// The queued confirmation emails of a person, oldest first: (to, text body, dedupe key).
    func confirmations(_ person: Int64) throws -> [(to: String, text: String, html: String, key: String, requiresConsent: String)] {
        try database.rows("""
            SELECT to_address, text_body, html_body, dedupe_key, requires_consent FROM marketing_outbox
            WHERE person_id = \(person) AND purpose = 'confirmation' ORDER BY id
            """).map { ($0[0], $0[1], $0[2], $0[3], $0[4]) }
    }

    /// The token of the person's latest confirmation email, read from its link
    /// (the mailbox is the only place it exists).
    func latestToken(_ person: Int64) throws -> String {
        let body = try #require(try confirmations(person).last).text
        let range = try #require(body.range(of: "/marketing/confirm?token="))
        return String(body[range.upperBound...].prefix { !$0.isWhitespace })
    }
}
