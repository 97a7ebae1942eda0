import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// The audit trail of sales' writes and its erasure, read from crmd's
/// database file (kernel_audit, kernel_audit_changes, kernel_outbox), as
/// docs/AUDIT.md describes them.
@Suite struct SalesAuditTests {
    struct Entry: Equatable, CustomStringConvertible {
        var action: String
        var user: String
        var owner: String
        /// field -> [old, new], "NULL" for no value.
        var changes: [String: [String]]
        var description: String { "\(action) by \(user) owner \(owner): \(changes)" }
    }

    func database(_ world: SalesAccessWorld) -> DatabaseFile { DatabaseFile(dataDir: world.crmd.dir + "/data") }

    /// The entries of one record, oldest first.
    func entries(_ world: SalesAccessWorld, _ entity: String, _ id: Int64) throws -> [Entry] {
        let rows = try database(world).rows("""
            SELECT a.id, a.action, COALESCE(a.user, ''), COALESCE(a.owner, ''), c.field, c.old_value, c.new_value
            FROM kernel_audit a LEFT JOIN kernel_audit_changes c ON c.audit_id = a.id
            WHERE a.entity = '\(entity)' AND a.record_id = '\(id)' ORDER BY a.id, c.field
            """)
        var out: [(String, Entry)] = []
        for row in rows {
            if out.last?.0 != row[0] { out.append((row[0], Entry(action: row[1], user: row[2], owner: row[3], changes: [:]))) }
            if row[4] != "NULL" { out[out.count - 1].1.changes[row[4]] = [row[5], row[6]] }
        }
        return out.map(\.1)
    }

    @Test func everyLeadAndOpportunityWriteLeavesItsFieldChanges() async throws {
        let world = try await SalesAccessWorld.start()
        let lead = try await world.ann.createLead(first: "Ada", last: "Lovelace", company: "Engines", email: "ada@old.example")
        _ = try await world.ann.updateLead(lead.id, mask: ["email"]) { $0.email = "ada@new.example" }
        _ = try await world.ann.updateLead(lead.id, mask: ["email"]) { $0.email = "ada@new.example" }  // no change: no entry
        _ = try await world.ann.qualify(lead.id)
        let converted = try await world.ann.convert(lead.id, key: "c1", name: "Engine order", amount: 90_000, currency: "GBP")
        _ = try await world.ann.convert(lead.id, key: "c1", name: "Engine order", amount: 90_000, currency: "GBP")  // a retry
        let deal = converted.opportunity
        let stages = try await world.admin.getPipeline().stages
        _ = try await world.ann.move(deal.id, to: stages[2].id)
        _ = try await world.ann.win(deal.id)
        // A refused write rolls back with its audit entry.
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await world.bob.win(deal.id) }

        let leadTrail = try entries(world, "sales.lead", lead.id)
        #expect(leadTrail.map(\.action) == ["create", "update", "qualify", "convert"], "\(leadTrail)")
        #expect(leadTrail.allSatisfy { $0.user == "ann" && $0.owner == "ann" })
        #expect(leadTrail[0].changes == [
            "first_name": ["NULL", "Ada"], "last_name": ["NULL", "Lovelace"], "company": ["NULL", "Engines"],
            "email": ["NULL", "ada@old.example"], "status": ["NULL", "NEW"], "owner": ["NULL", "ann"],
        ])
        #expect(leadTrail[1].changes == ["email": ["ada@old.example", "ada@new.example"]])
        #expect(leadTrail[2].changes == ["status": ["NEW", "QUALIFIED"]])
        #expect(leadTrail[3].changes == [
            "status": ["QUALIFIED", "CONVERTED"], "person_id": ["NULL", "\(converted.person.id)"],
            "organization_id": ["NULL", "\(converted.organization.id)"], "opportunity_id": ["NULL", "\(deal.id)"],
        ])

        let dealTrail = try entries(world, "sales.opportunity", deal.id)
        #expect(dealTrail.map(\.action) == ["create", "move", "win"], "\(dealTrail)")
        #expect(dealTrail[0].changes["name"] == ["NULL", "Engine order"])
        #expect(dealTrail[0].changes["amount_minor"] == ["NULL", "90000"] && dealTrail[0].changes["currency"] == ["NULL", "GBP"])
        #expect(dealTrail[0].changes["lead_id"] == ["NULL", "\(lead.id)"])
        #expect(dealTrail[1].changes == [
            "stage_id": ["\(stages[0].id)", "\(stages[2].id)"], "stage_name": [stages[0].name, stages[2].name],
            "probability": ["\(stages[0].probability)", "\(stages[2].probability)"],
        ])
        let won = try await world.ann.getOpportunity(deal.id)
        #expect(dealTrail[2].changes == [
            "status": ["OPEN", "WON"], "stage_id": ["\(stages[2].id)", "NULL"], "stage_name": [stages[2].name, "Won"],
            "probability": ["\(stages[2].probability)", "100"], "closed_unix_us": ["NULL", "\(won.closedUnixUs)"],
        ])
    }

    @Test func activitiesPipelinesAndTeamsAreAuditedToo() async throws {
        let world = try await SalesAccessWorld.start()
        let lead = try await world.ann.createLead(last: "Hopper")
        let call = try await world.ann.createActivity(.call, "Intro call", lead: lead.id)
        _ = try await world.ann.complete(call.id, notes: "went well")
        let activityTrail = try entries(world, "sales.activity", call.id)
        #expect(activityTrail.map(\.action) == ["create", "complete"])
        #expect(activityTrail[0].changes["subject"] == ["NULL", "Intro call"] && activityTrail[0].changes["type"] == ["NULL", "CALL"])
        #expect(activityTrail[1].changes["notes"] == ["NULL", "went well"])
        #expect(activityTrail[1].changes["completed_unix_us"]?.first == "NULL")

        let pipeline = try await world.meg.createPipeline("Renewals", [("Due", 40), ("Signed", 90)], makeDefault: true)
        let pipelineTrail = try entries(world, "sales.pipeline", pipeline.id)
        #expect(pipelineTrail.map(\.action) == ["create"])
        #expect(pipelineTrail[0].changes == [
            "name": ["NULL", "Renewals"], "stages": ["NULL", "Due (40 %), Signed (90 %)"], "is_default": ["NULL", "true"]])
        // The pipeline that stopped being the default changed too.
        #expect(try entries(world, "sales.pipeline", 1).map(\.changes) == [["is_default": ["true", "NULL"]]])

        let _: Crm_Sales_V1_Team = try await world.meg.call("SetTeam", Crm_Sales_V1_SetTeamRequest.with {
            $0.name = "inbound"
            $0.members = ["ann", "bob"]
        })
        _ = try await world.meg.createLead(last: "Turn", team: "inbound")
        let teamRows = try database(world).rows("""
            SELECT a.action, c.field, COALESCE(c.old_value, 'NULL'), COALESCE(c.new_value, 'NULL')
            FROM kernel_audit a JOIN kernel_audit_changes c ON c.audit_id = a.id
            WHERE a.entity = 'sales.team' AND a.record_id = 'inbound' ORDER BY a.id, c.field
            """)
        #expect(teamRows == [["set", "members", "NULL", "ann, bob"], ["set", "next_member", "NULL", "ann"],
                             ["assign", "next_member", "ann", "bob"]])
    }

    @Test func aMergeInContactsIsAuditedOnTheSalesRecordsItRepoints() async throws {
        let world = try await SalesAccessWorld.start()
        let contacts = ContactsClient(connection: world.connection)
        let kept = try await contacts.createPerson("Grace", "Hopper")
        let gone = try await contacts.createPerson("Grace", "Hopper (dup)")
        let deal = try await world.admin.createOpportunity("Compilers", amount: 500, person: gone.id)
        let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = kept.id
            $0.mergedID = gone.id
        })
        #expect(try await eventually { try await world.admin.getOpportunity(deal.id).personID == kept.id })
        let trail = try entries(world, "sales.opportunity", deal.id)
        #expect(trail.map(\.action) == ["create", "merge"])
        #expect(trail.last?.changes == ["person_id": ["\(gone.id)", "\(kept.id)"]])
    }

    @Test func afterAnErasureNoPersonalDataStaysInSalesAuditOrStoredEvents() async throws {
        let world = try await SalesAccessWorld.start()
        let secrets = ["Greta", "Privatsson", "greta@private.example", "+46 8 123 456", "Head of Secrets", "knows Olof"]
        // No company: ConvertLead names the deal after the person ("Greta Privatsson deal").
        let lead = try await world.ann.createLead(first: secrets[0], last: secrets[1], email: secrets[2], phone: secrets[3])
        _ = try await world.ann.updateLead(lead.id, mask: ["job_title", "notes"]) { $0.jobTitle = secrets[4]; $0.notes = secrets[5] }
        let converted = try await world.ann.convert(lead.id, key: "g1", amount: 5_000, currency: "SEK")
        #expect(converted.opportunity.name == "Greta Privatsson deal")
        let person = converted.person.id
        let call = try await world.ann.createActivity(.call, "Call Greta Privatsson", person: person)
        let onLead = try await world.ann.createActivity(.email, "Mail greta@private.example", lead: lead.id)
        _ = try await world.ann.complete(onLead.id, notes: "Greta replied")

        let db = database(world)
        /// How many sales audit values and stored sales events hold `text`.
        func traces(_ text: String) throws -> (audit: Int, events: Int) {
            let quoted = text.replacingOccurrences(of: "'", with: "''")
            let audit = try db.rows("""
                SELECT COUNT(*) FROM kernel_audit a JOIN kernel_audit_changes c ON c.audit_id = a.id
                WHERE a.entity LIKE 'sales.%' AND (instr(c.old_value, '\(quoted)') > 0 OR instr(c.new_value, '\(quoted)') > 0)
                """)
            let events = try db.rows("""
                SELECT COUNT(*) FROM kernel_outbox WHERE topic LIKE 'sales.%' AND instr(payload, CAST('\(quoted)' AS BLOB)) > 0
                """)
            return (Int(audit[0][0]) ?? -1, Int(events[0][0]) ?? -1)
        }
        for secret in secrets {
            let before = try traces(secret)
            #expect(before.audit > 0 && before.events > 0, "\(secret) is recorded before the erasure: \(before)")
        }

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person; $0.reason = "GDPR request 9" })
        #expect(try await eventually { try await world.admin.getLead(lead.id).lastName == "(erased)" })
        for secret in secrets {
            let after = try traces(secret)
            #expect(after.audit == 0 && after.events == 0, "\(secret) is gone after the erasure: \(after)")
        }
        // The erasure itself is audited on each record, without the values it removed.
        #expect(try entries(world, "sales.lead", lead.id).last?.action == "erase")
        #expect(try entries(world, "sales.activity", call.id).last?.action == "erase")
        #expect(try entries(world, "sales.activity", onLead.id).last?.action == "erase")
        // The deal keeps its figures but not the person's name.
        let deal = try await world.admin.getOpportunity(converted.opportunity.id)
        #expect(deal.name == "(erased) deal" && deal.amount.amountMinor == 5_000 && deal.personID == person)
        #expect(try entries(world, "sales.opportunity", deal.id).last?.action == "erase")
    }
}
