import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Fill crmd with a synthetic, repeatable data set (for demos and load tests).",
        discussion: """
        People come in through the contacts CSV import with external ids
        seed-1...seed-N, so seeding twice does not duplicate anyone. With
        --timeline K, the person seed-1 gets K updates, hence K timeline entries.
          crmctl seed --contacts 1000000 --timeline 10000
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "People to create.")
    var contacts = 1_000

    @Option(name: .long, help: "Organizations the people work for.")
    var organizations = 1_000

    @Option(name: .long, help: "Updates to the first person (timeline entries).")
    var timeline = 0

    @Option(name: .long, help: "Rows per import call.")
    var batch = 2_000

    func validate() throws {
        guard contacts >= 0, organizations > 0, timeline >= 0, (1...5_000).contains(batch) else {
            throw ValidationError("--contacts and --timeline must be >= 0, --organizations > 0, --batch 1...5000")
        }
        guard timeline == 0 || contacts > 0 else { throw ValidationError("--timeline needs at least one contact") }
    }

    static let firstNames = ["Ada", "Alan", "Grace", "Linus", "Marie", "Edsger", "Barbara", "Donald", "Frances", "Ken",
                             "Margaret", "Dennis", "Radia", "Tim", "Katherine", "John", "Hedy", "Niklaus", "Sophie", "Guido"]
    static let lastNames = ["Lovelace", "Turing", "Hopper", "Torvalds", "Curie", "Dijkstra", "Liskov", "Knuth", "Allen",
                            "Thompson", "Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Johnson", "McCarthy", "Lamarr",
                            "Wirth", "Wilson", "van Rossum"]
    static let tags = ["vip", "newsletter", "partner", "churn-risk", "trial", "event-2026", "referral"]
    static let stages = ["subscriber", "lead", "qualified", "opportunity", "customer", "evangelist"]

    static func row(_ i: Int, organizations: Int) -> String {
        let first = firstNames[i % firstNames.count]
        let last = lastNames[(i / firstNames.count) % lastNames.count]
        let email = "\(first.lowercased()).\(last.lowercased().replacingOccurrences(of: " ", with: "")).\(i)@example.com"
        let phone = "+1 555 \(String(format: "%07d", i % 10_000_000))"
        let tag = tags[i % tags.count] + (i % 3 == 0 ? ";" + tags[(i / 3) % tags.count] : "")
        return [String(first), last, email, phone, "Company \(i % organizations)", "owner\(i % 25)",
                stages[i % stages.count], tag, "seed-\(i)"].map { CSV.escapeField($0) }.joined(separator: ",") + "\n"
    }

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            if contacts > 0 {
                let importer = try ChunkedImport(
                    connection: client, header: ["first_name", "last_name", "email", "phone", "organization", "owner",
                                                 "lifecycle_stage", "tags", "external_id"],
                    mapping: [:], dryRun: false, maxErrors: 10)
                var chunk = ""
                var first = 1
                for i in 1...contacts {
                    chunk += Self.row(i, organizations: organizations)
                    if i - first + 1 == batch || i == contacts {
                        try await importer.send(chunk, firstRow: Int64(first + 1))
                        chunk = ""
                        first = i + 1
                    }
                }
                _ = try await importer.finish()
            }
            if timeline > 0 { try await seedTimeline(client) }
        }
    }

    /// K updates of seed-1's notes, 32 in flight.
    private func seedTimeline(_ client: Connection) async throws {
        let email = String(Self.row(1, organizations: organizations).split(separator: ",")[2])
        let found = try await client.call("/crm.contacts.v1.Contacts/SearchPeople",
                                          Crm_Contacts_V1_SearchPeopleRequest.with { $0.query = email; $0.field = .email },
                                          as: Crm_Contacts_V1_ListPeopleResponse.self)
        guard let person = found.people.first else { throw CrmctlError("seed-1 (\(email)) is not there to update") }
        let started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<32 {
                group.addTask {
                    for k in stride(from: lane, to: timeline, by: 32) {
                        _ = try await client.call("/crm.contacts.v1.Contacts/UpdatePerson",
                                                  Crm_Contacts_V1_UpdatePersonRequest.with {
                                                      $0.person.id = person.id
                                                      $0.person.notes = "seeded update \(k)"
                                                      $0.updateMask = ["notes"]
                                                  }, as: Crm_Contacts_V1_Person.self)
                    }
                }
            }
            try await group.waitForAll()
        }
        print("\(timeline) updates of person \(person.id) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}

enum CSV {
    static func escapeField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
