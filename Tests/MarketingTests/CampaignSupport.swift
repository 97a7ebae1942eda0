import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// A crmd with contacts and marketing for the campaign tests: people in a
/// tagged segment, consent, a template, and the outbox read from the file.
struct CampaignWorld {
    let crmd: CrmdProcess
    let contacts: ContactsClient
    let marketing: MarketingClient
    let dataDir: String

    init(plugins: [String] = ["contacts", "marketing"], dataDir: String? = nil, environment: [String: String] = [:]) throws {
        crmd = try CrmdProcess(plugins: plugins, environment: environment, dataDir: dataDir)
        self.dataDir = dataDir ?? crmd.dir + "/data"
        let connection = try crmd.connect()
        contacts = ContactsClient(connection: connection)
        marketing = MarketingClient(connection: connection)
    }

    var database: DatabaseFile { DatabaseFile(dataDir: dataDir) }

    /// `count` people tagged `tag` (imported in chunks), their ids once the
    /// segment of that tag holds them all, sorted; person i gets consent `subscribe(i)` (nil: never asked).
    func people(_ count: Int, tag: String, subscribe: (Int) -> Crm_Marketing_V1_ConsentStatus? = { _ in .subscribed })
        async throws -> (segment: Int64, ids: [Int64]) {
        var made = 0
        while made < count {
            let n = min(5000, count - made)
            let csv = (made..<(made + n)).map { "P\($0),\(tag),p\($0)-\(tag)@example.com,\(tag)" }.joined(separator: "\n")
            let result: Crm_Contacts_V1_ImportPeopleResponse = try await contacts.call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
                $0.header = ["first_name", "last_name", "email", "tags"]
                $0.csv = csv
            })
            #expect(result.created == Int64(n), "\(result.errors.prefix(3))")
            made += n
        }
        let segment = try await marketing.createSegment("tag \(tag)", rule: Rule.when("tag", .equals, tag))
        var ids: [Int64] = []
        let ok = try await eventually(timeout: 60) {
            ids = try await marketing.members(segment.id)
            return ids.count == count
        }
        #expect(ok, "segment has \(ids.count) of \(count)")
        ids.sort()
        for (i, id) in ids.enumerated() {
            if let status = subscribe(i) { _ = try await marketing.setConsent(id, status, evidence: "signed up at the fair") }
        }
        return (segment.id, ids)
    }

    func template(_ name: String, subject: String = "Hello {{person.first_name}}") async throws -> Int64 {
        try await marketing.createTemplate(name, subject: subject).id
    }

    /// Waits until the campaign reaches `state`; returns it.
    @discardableResult
    func waitFor(_ id: Int64, _ state: Crm_Marketing_V1_CampaignState, timeout: Double = 60,
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> MCampaign {
        var last = MCampaign()
        let ok = try await eventually(timeout: timeout) {
            last = try await marketing.getCampaign(id)
            return last.state == state
        }
        #expect(ok, "campaign \(id) is \(last.state), expected \(state)", sourceLocation: sourceLocation)
        return last
    }

    /// The campaign's outbox rows: person id -> (count, variant ids, subject).
    func outbox(_ campaign: Int64) throws -> [(person: Int64, variant: Int64, subject: String, key: String, state: Int)] {
        try database.rows("""
            SELECT person_id, variant_id, subject, dedupe_key, state FROM marketing_outbox WHERE campaign_id = \(campaign) ORDER BY id
            """).map { (Int64($0[0])!, Int64($0[1])!, $0[2], $0[3], Int($0[4])!) }
    }
}
