import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import SalesTestClient
import Testing

/// Item 6 of issue 16, second half: the renewal opportunity made once, a
/// configurable time before a contract ends, with the uplift; renewed and
/// churned contracts and their report.
@Suite(.serialized) struct RenewalTests {
    static let day = B2BWorld.day

    /// "YYYY-MM-DD" of a UTC time, by Foundation (the plugin has its own arithmetic).
    func date(_ micros: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: Double(micros / 1_000_000)))
    }

    func opportunities(_ world: B2BWorld, organization: Int64) async throws -> [SOpportunity] {
        let list: Crm_Sales_V1_ListOpportunitiesResponse = try await world.sales.call("ListOpportunities",
            Crm_Sales_V1_ListOpportunitiesRequest.with { $0.organizationID = organization })
        return list.opportunities
    }

    @Test func theRenewalOpportunityIsMadeOnceAcrossRestarts() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var world = try await B2BWorld.signing(leadDays: 30, dataDir: dataDir)
        let now = nowMicros()
        // Due at once: it ends in 10 days, within the 30-day lead.
        let soon = try await world.signedContract(terms: B2BWorld.terms(start: now - 355 * Self.day, days: 365, uplift: 333), tag: "a")
        // Due about 8 s from now: only after the restart.
        var laterTerms = B2BWorld.terms(start: now - 300 * Self.day)
        laterTerms.endUnixUs = now + 30 * Self.day + 8_000_000
        let later = try await world.signedContract(terms: laterTerms, tag: "b")

        #expect(try await eventually(timeout: 6) { try await world.contract(soon.contract.id).renewalOpportunityID != 0 })
        let made = try await world.contract(soon.contract.id)
        #expect(made.renewalAmount.amountMinor == 21699 && made.renewalAmount.currency == "EUR",
                "21000 with a 3.33 % uplift is 21699.3, rounded to 21699")
        #expect(made.renewalCreatedUnixUs > 0 && made.status == .active)
        let renewal = try await world.sales.getOpportunity(made.renewalOpportunityID)
        #expect(renewal.status == .open && renewal.amount.amountMinor == 21699 && renewal.amount.currency == "EUR")
        #expect(renewal.name == "Renewal: Acme Industries fleet" && renewal.owner == "ann")
        #expect(renewal.organizationID == soon.contract.organizationID && renewal.personID == soon.contract.personID)
        #expect(renewal.pipelineID == soon.opportunity.pipelineID && renewal.expectedCloseDate == date(soon.contract.terms.endUnixUs))
        #expect(try await world.contract(later.contract.id).renewalOpportunityID == 0, "not due yet")

        // A graceful restart: the later contract comes due under the new crmd.
        let (eur, widget, support) = (world.eur, world.widget, world.support)
        try world.crmd.stop()
        world = try B2BWorld.attach(try B2BWorld.launch(environment: B2BWorld.environment(leadDays: 30), dataDir: dataDir),
                                    eur: eur, widget: widget, support: support)
        #expect(try await eventually(timeout: 15) { try await world.contract(later.contract.id).renewalOpportunityID != 0 })
        let laterMade = try await world.contract(later.contract.id)
        // kill -9 after some runs, and more runs after it: nothing is made twice.
        try await Task.sleep(for: .milliseconds(2500))
        try world.crmd.stop(signal: SIGKILL)
        world = try B2BWorld.attach(try B2BWorld.launch(environment: B2BWorld.environment(leadDays: 30), dataDir: dataDir),
                                    eur: eur, widget: widget, support: support)
        try await Task.sleep(for: .milliseconds(2500))
        for (contract, renewalID) in [(soon.contract, made.renewalOpportunityID), (later.contract, laterMade.renewalOpportunityID)] {
            let all = try await opportunities(world, organization: contract.organizationID)
            #expect(all.map(\.id).sorted() == [contract.opportunityID, renewalID].sorted(), "the won one and one renewal")
            #expect(try await world.contract(contract.id).renewalOpportunityID == renewalID)
        }
    }

    @Test func aWonRenewalRenewsALostOneChurnsAndTheReportSaysSo() async throws {
        let world = try await B2BWorld.signing(leadDays: 30)
        let now = nowMicros()
        let a = try await world.signedContract(terms: B2BWorld.terms(start: now - 355 * Self.day), tag: "a")  // ends in 10 days
        let b = try await world.signedContract(terms: B2BWorld.terms(start: now - 350 * Self.day), tag: "b")  // in 15
        let c = try await world.signedContract(terms: B2BWorld.terms(start: now), tag: "c")                     // in a year
        #expect(try await eventually(timeout: 6) {
            let made = [try await world.contract(a.contract.id), try await world.contract(b.contract.id)]
            return made.allSatisfy { $0.renewalOpportunityID != 0 }
        })
        let aRenewal = try await world.contract(a.contract.id).renewalOpportunityID
        let bRenewal = try await world.contract(b.contract.id).renewalOpportunityID
        #expect(try await world.contract(a.contract.id).renewalAmount.amountMinor == 22050, "21000 with 5 %")

        // The renewal signed through b2b: a new contract that renews a's.
        let draft = try await world.admin.createQuote(opportunity: aRenewal, currency: "EUR", world.fleet())
        let sent = try await world.admin.send(draft.id)
        let envelope = try await world.sendForSignature(quote: sent.id, terms: B2BWorld.terms(start: a.contract.terms.endUnixUs))
        _ = try await world.event("r-sent", envelope: envelope.id, "sent")
        let next = try await world.event("r-signed", envelope: envelope.id, "signed").contract
        #expect(next.renewalOfContractID == a.contract.id && next.opportunityID == aRenewal)
        _ = try await world.sales.lose(bRenewal, reason: "moved to a competitor")
        #expect(try await eventually { try await world.contract(a.contract.id).status == .renewed })
        #expect(try await eventually { try await world.contract(b.contract.id).status == .churned })
        let churned = try await world.contract(b.contract.id)
        #expect(churned.churnReason == "moved to a competitor" && churned.outcomeUnixUs > 0)
        await expectRPCError(.failedPrecondition, mentioning: "contract \(b.contract.id) is churned") {
            let _: BContract = try await world.meg.call("AmendContract", Crm_B2b_V1_AmendContractRequest.with {
                $0.id = b.contract.id; $0.terms = b.contract.terms; $0.reason = "late"
            })
        }

        func report(_ from: Int64, _ to: Int64, status: Crm_B2b_V1_ContractStatus = .unspecified, pageSize: Int32 = 0,
                    token: String = "") async throws -> Crm_B2b_V1_RenewalReportResponse {
            try await world.meg.call("RenewalReport", Crm_B2b_V1_RenewalReportRequest.with {
                $0.endFromUnixUs = from; $0.endToUnixUs = to; $0.status = status; $0.pageSize = pageSize; $0.pageToken = token
            })
        }
        let window = try await report(now, now + 20 * Self.day)
        #expect(window.contracts.map(\.id) == [a.contract.id, b.contract.id], "by end time")
        #expect(window.totals.map(\.status) == [.renewed, .churned])
        #expect(window.totals.map(\.count) == [1, 1] && window.totals.map(\.valueMinor) == [21000, 21000])
        #expect(window.totals.map(\.renewalAmountMinor) == [22050, 22050] && window.totals.allSatisfy { $0.currency == "EUR" })
        let first = try await report(now, now + 20 * Self.day, pageSize: 1)
        #expect(first.contracts.map(\.id) == [a.contract.id] && first.totals == window.totals)
        #expect(try await report(now, now + 20 * Self.day, pageSize: 1, token: first.nextPageToken).contracts.map(\.id) == [b.contract.id])
        #expect(try await report(now, now + 20 * Self.day, status: .churned).contracts.map(\.id) == [b.contract.id])
        let year = try await report(now, now + 800 * Self.day)
        #expect(year.contracts.map(\.id) == [a.contract.id, b.contract.id, c.contract.id, next.id])
        #expect(year.totals.first { $0.status == .active }?.count == 2)
        await expectRPCError(.invalidArgument, mentioning: "end_from_unix_us and end_to_unix_us are required") { try await report(0, now) }
        await expectRPCError(.invalidArgument, mentioning: "from before to") { try await report(now, now) }

        // The job's write is the kernel's and administrators' alone; a contract not due is left as it is.
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.renewal.run") {
            let _: Crm_B2b_V1_CreateRenewalResponse = try await world.ann.call("CreateRenewal",
                Crm_B2b_V1_CreateRenewalRequest.with { $0.contractID = c.contract.id })
        }
        let notDue: Crm_B2b_V1_CreateRenewalResponse = try await world.admin.call("CreateRenewal",
            Crm_B2b_V1_CreateRenewalRequest.with { $0.contractID = c.contract.id })
        #expect(!notDue.created && notDue.contract.renewalOpportunityID == 0)
        await expectRPCError(.notFound, mentioning: "contract_id: contract 999 does not exist") {
            let _: Crm_B2b_V1_CreateRenewalResponse = try await world.admin.call("CreateRenewal",
                Crm_B2b_V1_CreateRenewalRequest.with { $0.contractID = 999 })
        }
    }
}
