import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Many tills at once, and a crash in the middle of them.
@Suite struct ConcurrencyTests {
    /// Azuriom Plugin-Shop #285: two checkouts raced a card to -10. Here
    /// 64 redemptions at once of a card holding less than they ask for
    /// together: the card never goes below zero and what they took sums
    /// to what was loaded.
    @Test func sixtyFourConcurrentRedemptionsNeverOverdrawACard() async throws {
        // Half of them name the card by code: lift the lookup limit for this.
        let world = try LoyaltyWorld(environment: ["CRM_PLUGIN_LOYALTY_CODE_LOOKUP_BURST": "1000"])
        let (card, code) = try await world.card(10_000)
        let loyalty = world.loyalty
        let results = await withTaskGroup(of: (Int, Int64, LPostingResult?).self) { group in
            for i in 0..<64 {
                group.addTask {
                    let amount: Int64 = 150 + Int64(i % 5) * 10
                    do {
                        let result = try await i % 2 == 0 ? loyalty.redeem(card: card, amount, key: "r\(i)")
                            : loyalty.redeem(code: code, amount, key: "r\(i)")
                        #expect(result.account.balance >= 0)
                        return (i, amount, result)
                    } catch let error as RPCError {
                        #expect(error.code == .failedPrecondition && error.message.contains("insufficient balance"), "\(error)")
                        return (i, amount, nil)
                    } catch {
                        Issue.record("\(error)")
                        return (i, amount, nil)
                    }
                }
            }
            var all: [(Int, Int64, LPostingResult?)] = []
            for await result in group { all.append(result) }
            return all
        }
        let taken: Int64 = results.filter { $0.2 != nil }.map { $0.1 }.reduce(0, +)
        #expect(results.contains { $0.2 == nil }, "the card was loaded with less than 64 redemptions ask for")
        let account = try await world.loyalty.account(card)
        #expect(account.balance >= 0 && account.balance == 10_000 - taken)
        // Drain the rest: all redemptions together took exactly what was loaded.
        if account.balance > 0 { _ = try await world.loyalty.redeem(card: card, account.balance, key: "rest") }
        let entries = try await world.loyalty.entries(card, pageSize: 500).entries
        let spent: Int64 = entries.filter { $0.amount < 0 }.map { -$0.amount }.reduce(0, +)
        #expect(spent == 10_000)
        #expect(entries.allSatisfy { $0.balanceAfter >= 0 })
        // Retried with their keys, they are no-ops answered as the first time.
        for (i, amount, first) in results.prefix(8) {
            guard let first else { continue }
            let again = i % 2 == 0 ? try await loyalty.redeem(card: card, amount, key: "r\(i)")
                : try await loyalty.redeem(code: code, amount, key: "r\(i)")
            #expect(again == first)
        }
        #expect(try await world.loyalty.account(card).balance == 0)
        try await world.expectClean()
    }

    /// kill -9 of crmd while 64 postings are in flight: after a restart
    /// every acknowledged posting is there, the ledger reconciles, and each
    /// acknowledged key answers as it did.
    @Test func theLedgerReconcilesAfterAKillDuringConcurrentPostings() async throws {
        let dataDir = try CrmdProcess.makeTempDir() + "/data"
        var world: LoyaltyWorld? = try LoyaltyWorld(dataDir: dataDir)
        let (_, account) = try await world!.member("Kim")
        let (card, _) = try await world!.card(1_000_000)
        let loyalty = world!.loyalty
        let acknowledged = Acknowledged()
        let pid = world!.crmd.pid
        await withTaskGroup(of: Void.self) { group in
            for lane in 0..<64 {
                group.addTask {
                    for n in 0..<1000 {
                        let key = "k\(lane)-\(n)"
                        do {
                            let result = lane % 2 == 0 ? try await loyalty.earn(account, 3, key: key)
                                : try await loyalty.redeem(card: card, 7, key: key)
                            await acknowledged.add(key, result.posting.id, even: lane % 2 == 0)
                        } catch { return }
                    }
                }
            }
            group.addTask {
                var waited = 0
                while await acknowledged.count < 300, waited < 6000 {
                    try? await Task.sleep(for: .milliseconds(5))
                    waited += 1
                }
                kill(pid, SIGKILL)
            }
        }
        let before = await acknowledged.all
        #expect(before.count >= 300)
        _ = world!.crmd.waitForExit()
        world = nil
        let restarted = try LoyaltyWorld(dataDir: dataDir)
        try await restarted.expectClean()
        let points = try await restarted.loyalty.account(account)
        let cardAccount = try await restarted.loyalty.account(card)
        let earned = before.filter { $0.even }.count, redeemed = before.filter { !$0.even }.count
        // At least what was acknowledged; a posting committed just before the kill may not have been answered.
        #expect(points.balance >= Int64(earned) * 3 && cardAccount.balance <= 1_000_000 - Int64(redeemed) * 7)
        #expect(points.balance % 3 == 0 && (1_000_000 - cardAccount.balance) % 7 == 0)
        for ack in before.prefix(50) {
            let replay = ack.even ? try await restarted.loyalty.earn(account, 3, key: ack.key)
                : try await restarted.loyalty.redeem(card: card, 7, key: ack.key)
            #expect(replay.posting.id == ack.posting)
        }
        #expect(try await restarted.loyalty.account(account).balance == points.balance)
        try await restarted.expectClean()
        try? FileManager.default.removeItem(atPath: (dataDir as NSString).deletingLastPathComponent)
    }
}

actor Acknowledged {
    struct Ack { let key: String; let posting: Int64; let even: Bool }
    private(set) var all: [Ack] = []
    var count: Int { all.count }
    func add(_ key: String, _ posting: Int64, even: Bool) { all.append(Ack(key: key, posting: posting, even: even)) }
}
