import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// A crmd with contacts and loyalty only (the café's `--enable
/// contacts,loyalty`), and clients for both.
struct LoyaltyWorld {
    let crmd: CrmdProcess
    let loyalty: LoyaltyClient
    let contacts: ContactsClient

    init(environment: [String: String] = [:], dataDir: String? = nil) throws {
        crmd = try CrmdProcess(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"],
                               environment: environment, dataDir: dataDir)
        let connection = try crmd.connect()
        loyalty = LoyaltyClient(connection: connection)
        contacts = ContactsClient(connection: connection)
    }

    var database: DatabaseFile { DatabaseFile(dataDir: crmd.dir + "/data") }

    func person(_ first: String) async throws -> Int64 {
        try await contacts.createPerson(first, "Regular").id
    }

    /// A points account with `points` on it.
    func member(_ first: String, points: Int64 = 0) async throws -> (person: Int64, account: Int64) {
        let person = try await person(first)
        let account = try await loyalty.pointsAccount(person: person).id
        if points > 0 { _ = try await loyalty.earn(account, points, key: "seed-\(account)") }
        return (person, account)
    }

    /// A digital gift card loaded with `amount`: its id and code.
    func card(_ amount: Int64, currency: String = "EUR", person: Int64 = 0) async throws -> (id: Int64, code: String) {
        let issued = try await loyalty.issueDigital(amount, currency: currency, person: person, key: "card-\(UUID().uuidString)")
        let card = try #require(issued.cards.first)
        return (card.id, card.code)
    }

    func expectClean(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let report = try await loyalty.reconcile()
        #expect(report.clean && report.mismatchCount == 0, "\(report.mismatches)", sourceLocation: sourceLocation)
    }
}
