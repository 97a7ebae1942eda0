import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SalesTestClient
import Testing

/// Record scope on every sales read and write path: two reps (scope own),
/// a manager (all), over the real socket with crmd asserting the users.
@Suite struct SalesScopeTests {
    /// The status and the exact message of a call that must fail.
    func failure(_ body: () async throws -> some Any) async -> (Crm_Rpc_V1_StatusCode, String)? {
        do {
            _ = try await body()
            return nil
        } catch let error as RPCError {
            return (error.code, error.message)
        } catch {
            return (.unknown, "\(error)")
        }
    }

    struct Book {
        var leads: [Int64] = []
        var opportunities: [Int64] = []
        var activities: [Int64] = []
        var amount: Int64 = 0
    }

    /// Leads, opportunities (amounts in EUR, closing in December) and
    /// overdue activities made by `rep` with no owner given, interleaved
    /// with the other rep's so pages mix them.
    func fill(_ world: SalesAccessWorld) async throws -> (ann: Book, bob: Book) {
        var ann = Book(), bob = Book()
        let due = nowMicros() - 3_600_000_000
        for i in 1...3 {
            for (rep, name, amount) in [(world.ann, "ann", Int64(1_000 * i)), (world.bob, "bob", Int64(10_000 * i))] {
                let lead = try await rep.createLead(first: "L\(i)", last: name.capitalized, company: "\(name) co \(i)")
                #expect(lead.owner == name, "an empty owner under scope own becomes the caller")
                let deal = try await rep.createOpportunity("\(name) deal \(i)", amount: amount, closeDate: "2026-12-1\(i)")
                #expect(deal.owner == name)
                let call = try await rep.createActivity(.call, "call \(name) \(i)", due: due, lead: lead.id)
                #expect(call.owner == name)
                let meeting = try await rep.createActivity(.meeting, "meet \(name) \(i)", opportunity: deal.id)
                if name == "ann" {
                    ann.leads.append(lead.id); ann.opportunities.append(deal.id)
                    ann.activities += [call.id, meeting.id]; ann.amount += amount
                } else {
                    bob.leads.append(lead.id); bob.opportunities.append(deal.id)
                    bob.activities += [call.id, meeting.id]; bob.amount += amount
                }
            }
        }
        return (ann, bob)
    }

    @Test func eachRepReadsOnlyTheirOwnRecordsAndTheManagerReadsAll() async throws {
        let world = try await SalesAccessWorld.start()
        let (ann, bob) = try await fill(world)

        // get: the other rep's record is NOT_FOUND in the words of a missing one.
        let missingLead = await failure { try await world.ann.getLead(999_999) }
        #expect(missingLead?.0 == .notFound && missingLead?.1 == "id: lead 999999 does not exist")
        for id in bob.leads {
            let seen = await failure { try await world.ann.getLead(id) }
            #expect(seen?.0 == .notFound && seen?.1 == "id: lead \(id) does not exist")
        }
        for id in ann.opportunities {
            let seen = await failure { try await world.bob.getOpportunity(id) }
            #expect(seen?.0 == .notFound && seen?.1 == "id: opportunity \(id) does not exist")
        }
        #expect(try await world.ann.getLead(ann.leads[0]).owner == "ann")
        #expect(try await world.bob.getOpportunity(bob.opportunities[0]).owner == "bob")

        // lists, also page by page (the scope is in the SQL, before the LIMIT) and filtered by the other owner.
        #expect(try await world.ann.allLeadIDs() == ann.leads)
        #expect(try await world.ann.allLeadIDs(pageSize: 1) == ann.leads)
        #expect(try await world.bob.allLeadIDs(pageSize: 2) == bob.leads)
        #expect(try await world.ann.leads(owner: "bob").leads.isEmpty)
        #expect(try await world.ann.opportunities().map(\.id) == ann.opportunities)
        #expect(try await world.ann.opportunities(owner: "bob").isEmpty)
        #expect(try await world.bob.activities().map(\.id) == bob.activities)
        #expect(try await world.bob.activities(lead: ann.leads[0]).isEmpty)
        #expect(try await world.bob.activities(opportunity: bob.opportunities[0]).count == 1)
        #expect(try await world.ann.followUps("ann").activities.map(\.id) == ann.activities.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        #expect(try await world.ann.followUps("bob").activities.isEmpty)

        // the manager and the read-only user see everything.
        let everyone = (ann.leads + bob.leads).sorted()
        #expect(try await world.meg.allLeadIDs(pageSize: 1) == everyone)
        #expect(try await world.rita.allLeadIDs() == everyone)
        #expect(try await world.meg.opportunities().count == 6)
        #expect(try await world.meg.activities().count == 12)
        #expect(try await world.meg.followUps("bob").activities.count == 3)
        #expect(try await world.meg.getLead(bob.leads[0]).owner == "bob")
    }

    @Test func forecastsAndStageStatisticsCountOnlyTheCallersPipeline() async throws {
        let world = try await SalesAccessWorld.start()
        let (ann, bob) = try await fill(world)
        _ = try await world.ann.win(ann.opportunities[0])
        _ = try await world.bob.lose(bob.opportunities[0], reason: "budget")
        _ = try await world.bob.lose(bob.opportunities[1], reason: "timing")

        /// Open count, unweighted open amount and won amount over all rows.
        func open(_ rows: [Crm_Sales_V1_ForecastRow]) -> [Int64] {
            [rows.map(\.openCount).reduce(0, +), rows.map(\.unweightedMinor).reduce(0, +), rows.map(\.wonMinor).reduce(0, +)]
        }
        let annRows = try await world.ann.forecast()
        #expect(Set(annRows.map(\.owner)) == ["ann"])
        #expect(open(annRows) == [2, ann.amount - 1_000, 1_000], "ann's two open deals and the one she won")
        let bobRows = try await world.bob.forecast()
        #expect(Set(bobRows.map(\.owner)) == ["bob"])
        #expect(open(bobRows) == [1, 30_000, 0])
        #expect(try await world.ann.forecast(owner: "bob").isEmpty)
        let all = try await world.meg.forecast()
        #expect(open(all) == [3, ann.amount - 1_000 + 30_000, 1_000])

        // Every deal entered the first stage; ann won 1 of 1 closed, bob lost 2 of 2.
        let annFirst = try #require(try await world.ann.stageStats().first)
        #expect(annFirst.entered == 3 && annFirst.won == 1 && annFirst.lost == 0 && annFirst.winRateBp == 10_000)
        let bobFirst = try #require(try await world.bob.stageStats().first)
        #expect(bobFirst.entered == 3 && bobFirst.won == 0 && bobFirst.lost == 2 && bobFirst.winRateBp == 0)
        let megFirst = try #require(try await world.meg.stageStats().first)
        #expect(megFirst.entered == 6 && megFirst.won == 1 && megFirst.lost == 2 && megFirst.winRateBp == 3_333)
        #expect(try await world.ann.stageStats().count == world.meg.stageStats().count, "every stage keeps its row")
    }

    @Test func writingAnotherRepsRecordIsPermissionDeniedAndChangesNothing() async throws {
        let world = try await SalesAccessWorld.start()
        let (ann, bob) = try await fill(world)
        let lead = bob.leads[0], deal = bob.opportunities[0], activity = bob.activities[0]
        let stage = try await world.admin.getPipeline().stages[1].id
        let writes: [(String, () async throws -> Any)] = [
            ("UpdateLead", { try await world.ann.updateLead(lead, mask: ["notes"]) { $0.notes = "mine now" } }),
            ("QualifyLead", { try await world.ann.qualify(lead) }),
            ("ConvertLead", { try await world.ann.convert(lead, key: "steal") }),
            ("UpdateOpportunity", { try await world.ann.updateOpportunity(deal, mask: ["name"]) { $0.name = "mine" } }),
            ("MoveOpportunity", { try await world.ann.move(deal, to: stage) }),
            ("WinOpportunity", { try await world.ann.win(deal) }),
            ("LoseOpportunity", { try await world.ann.lose(deal, reason: "sabotage") }),
            ("CompleteActivity", { try await world.ann.complete(activity) }),
        ]
        for (method, write) in writes {
            let refused = await failure(write)
            #expect(refused?.0 == .permissionDenied, "\(method): \(String(describing: refused))")
            #expect(refused?.1.contains("outside your record scope") == true, "\(method)")
        }
        // Owners outside the scope, on create and on update.
        let ownerWrites: [(String, () async throws -> Any)] = [
            ("CreateLead", { try await world.ann.createLead(last: "Gift", owner: "bob") }),
            ("CreateOpportunity", { try await world.ann.createOpportunity("Gift", owner: "bob") }),
            ("CreateActivity", { try await world.ann.createActivity(.task, "Gift", owner: "bob", lead: ann.leads[0]) }),
            ("UpdateLead owner", { try await world.ann.updateLead(ann.leads[0], mask: ["owner"]) { $0.owner = "bob" } }),
            ("UpdateOpportunity owner", {
                try await world.ann.updateOpportunity(ann.opportunities[0], mask: ["owner"]) { $0.owner = "bob" } }),
        ]
        for (method, write) in ownerWrites {
            let refused = await failure(write)
            #expect(refused?.0 == .permissionDenied && refused?.1.contains("owner bob") == true, "\(method): \(String(describing: refused))")
        }
        // Records of the other rep are as missing when a new record points at them.
        await expectRPCError(.notFound, mentioning: "activity.opportunity_id: opportunity \(deal) does not exist") {
            try await world.ann.createActivity(.call, "peek", opportunity: deal)
        }
        await expectRPCError(.notFound, mentioning: "activity.lead_id: lead \(lead) does not exist") {
            try await world.ann.createActivity(.call, "peek", lead: lead)
        }
        await expectRPCError(.notFound, mentioning: "opportunity.lead_id: lead \(lead) does not exist") {
            let _: SOpportunity = try await world.ann.call("CreateOpportunity", Crm_Sales_V1_CreateOpportunityRequest.with {
                $0.opportunity.name = "From bob's lead"
                $0.opportunity.leadID = lead
            })
        }
        // Nothing of bob's changed, and nothing was created for him.
        #expect(try await world.bob.getLead(lead).version == 1)
        #expect(try await world.bob.getOpportunity(deal).version == 1)
        #expect(try await world.bob.activities().first { $0.id == activity }?.completedUnixUs == 0)
        #expect(try await world.bob.allLeadIDs() == bob.leads)

        // The manager writes anyone's records and hands them to anyone.
        let handed = try await world.meg.updateLead(lead, mask: ["owner"]) { $0.owner = "ann" }
        #expect(handed.owner == "ann")
        #expect(try await world.ann.getLead(lead).id == lead)
        await expectRPCError(.notFound, mentioning: "id: lead \(lead) does not exist") { try await world.bob.getLead(lead) }
        #expect(try await world.meg.win(deal).status == .won)
        // A rep may clear the owner of their own lead: under scope own it stays theirs.
        #expect(try await world.ann.updateLead(ann.leads[1], mask: ["owner"]) { $0.owner = "" }.owner == "ann")
    }

    @Test func anIdempotencyKeyAnotherRepUsedIsRefusedNotAnsweredWithTheirRecord() async throws {
        let world = try await SalesAccessWorld.start()
        let bobs = try await world.bob.createLead(last: "Keyed", key: "web-form-1")
        #expect(try await world.bob.createLead(last: "Keyed", key: "web-form-1") == bobs)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"web-form-1\"") {
            try await world.ann.createLead(last: "Keyed", key: "web-form-1")
        }
        #expect(try await world.ann.allLeadIDs().isEmpty)
    }

    @Test func roundRobinNeverHandsARepsLeadToSomeoneOutsideTheirScope() async throws {
        let world = try await SalesAccessWorld.start()
        let team: Crm_Sales_V1_Team = try await world.meg.call("SetTeam", Crm_Sales_V1_SetTeamRequest.with {
            $0.name = "inbound"
            $0.members = ["ann", "bob"]
        })
        #expect(team.nextMember == "ann")
        #expect(try await world.ann.createLead(last: "First", team: "inbound").owner == "ann")
        await expectRPCError(.permissionDenied, mentioning: "it is bob's turn in team \"inbound\"") {
            try await world.ann.createLead(last: "Second", team: "inbound")
        }
        let after: Crm_Sales_V1_Team = try await world.ann.call("GetTeam", Crm_Sales_V1_GetTeamRequest.with { $0.name = "inbound" })
        #expect(after.nextMember == "bob", "the refused turn did not advance")
        // An owner given outright skips the team; the manager's round-robin reaches everyone.
        #expect(try await world.ann.createLead(last: "Own", owner: "ann", team: "inbound").owner == "ann")
        #expect(try await world.meg.createLead(last: "Third", team: "inbound").owner == "bob")
        #expect(try await world.meg.createLead(last: "Fourth", team: "inbound").owner == "ann")
    }

    @Test func aRepConvertsTheirLeadAndOwnsEverythingItCreates() async throws {
        let world = try await SalesAccessWorld.start()
        let lead = try await world.ann.createLead(first: "Lin", last: "Ng", company: "Ng Trading", email: "lin@ng.example")
        let converted = try await world.ann.convert(lead.id, key: "ann-1", amount: 7_500, currency: "EUR")
        #expect(converted.lead.status == .converted)
        #expect(converted.person.owner == "ann" && converted.organization.owner == "ann" && converted.opportunity.owner == "ann")
        let person: Crm_Contacts_V1_Person = try await world.contacts(
            "GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = converted.person.id }, as: "ann")
        #expect(person.owner == "ann" && person.lastName == "Ng")
        #expect(try await world.ann.getOpportunity(converted.opportunity.id).personID == converted.person.id)
        // A retry answers the first result; the other rep cannot replay it.
        #expect(try await world.ann.convert(lead.id, key: "ann-1", amount: 7_500, currency: "EUR") == converted)
        await expectRPCError(.permissionDenied, mentioning: "lead_id: lead \(lead.id) is outside your record scope") {
            try await world.bob.convert(lead.id, key: "ann-1", amount: 7_500, currency: "EUR")
        }
        await expectRPCError(.notFound, mentioning: "does not exist") { try await world.bob.getOpportunity(converted.opportunity.id) }
    }

    @Test func aReadOnlyUserIsDeniedEveryWritingMethod() async throws {
        let world = try await SalesAccessWorld.start()
        let methods = try await world.salesMethods()
        let writes = methods.filter(\.writes)
        // The descriptor names them: a write method added later is covered without touching this test.
        #expect(writes.count >= 13)
        #expect(Set(["CreateLead", "ConvertLead", "MoveOpportunity", "CompleteActivity", "SetTeam"]).isSubset(of: writes.map(\.name)))
        for method in writes {
            #expect(!method.permission.isEmpty, "\(method.fullName) declares a permission")
            do {
                _ = try await world.connection.call(method.fullName, [], metadata: AccessSupport.actingAs("rita"))
                Issue.record("\(method.fullName) succeeded for a read-only user")
            } catch let error as RPCError {
                #expect(error.code == .permissionDenied, "\(method.fullName): \(error)")
                #expect(error.message == "user rita lacks permission \(method.permission)", "\(method.fullName)")
            }
        }
        // Her reads go through: the refusals above are about writing.
        for method in methods where !method.writes && method.permission.hasSuffix(".read") {
            do {
                _ = try await world.connection.call(method.fullName, [], metadata: AccessSupport.actingAs("rita"))
            } catch let error as RPCError {
                #expect(error.code != .permissionDenied, "\(method.fullName): \(error)")
            }
        }
    }

    @Test func anUnboundUidIsRefusedOnEverySalesMethod() async throws {
        let world = try await SalesAccessWorld.start()
        let methods = try await world.salesMethods()
        #expect(methods.count >= 25)
        let stranger: UInt32 = 40_113
        for method in methods {
            let run = try CrmctlRun.run(["call", method.fullName, "{}"], socket: world.crmd.socketPath, uid: stranger)
            #expect(run.status == Int32(Crm_Rpc_V1_StatusCode.permissionDenied.rawValue), "\(method.fullName): \(run.stderr)")
            #expect(run.stderr == "crmctl: PERMISSION_DENIED: uid \(stranger) is not bound to a CRM user; an administrator must bind it\n",
                    "\(method.fullName)")
        }
    }
}
