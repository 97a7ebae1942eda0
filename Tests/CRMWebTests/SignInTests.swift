import CRMWeb
import Foundation
import XCTest

/// crm-web's sign-in decisions against a real web.db in a temporary folder
/// (the browser tests in Tests/WebTests drive the same through HTTP).
final class SignInTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "crm-web-tests-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func store(with users: [String: String]) throws -> WebUserStore {
        let store = try WebUserStore(dataDir: dir)
        for (name, password) in users { try store.add(name: name, passwordHash: Passwords.hash(password, cost: 4)) }
        return store
    }

    func testRightPasswordSignsInWrongOneAndUnknownNameAreRefused() async throws {
        let guardian = SignInGuard(users: try store(with: ["rae": "secret-one"]), maxFailures: 5, lockoutSeconds: 60, bcryptCost: 4)
        let signedIn = try await guardian.attempt(name: "rae", password: "secret-one")
        XCTAssertEqual(signedIn, .signedIn("rae"))
        let wrong = try await guardian.attempt(name: "rae", password: "secret-two")
        XCTAssertEqual(wrong, .refused)
        let unknown = try await guardian.attempt(name: "nobody", password: "secret-one")
        XCTAssertEqual(unknown, .refused)
        let malformed = try await guardian.attempt(name: "Not A Name!", password: "secret-one")
        XCTAssertEqual(malformed, .refused)
    }

    func testLockoutRefusesTheRightPasswordUntilTheCoolDownEnds() async throws {
        let users = try store(with: ["lou": "secret-one"])
        let guardian = SignInGuard(users: users, maxFailures: 3, lockoutSeconds: 1, bcryptCost: 4)
        for _ in 0..<3 {
            let outcome = try await guardian.attempt(name: "lou", password: "wrong-one")
            XCTAssertEqual(outcome, .refused)
        }
        XCTAssertGreaterThan(try XCTUnwrap(users.user(named: "lou")).lockedUntilUnixUs, nowMicros())
        let locked = try await guardian.attempt(name: "lou", password: "secret-one")
        XCTAssertEqual(locked, .refused)
        try await Task.sleep(for: .milliseconds(1100))
        let after = try await guardian.attempt(name: "lou", password: "secret-one")
        XCTAssertEqual(after, .signedIn("lou"))
        XCTAssertEqual(try XCTUnwrap(users.user(named: "lou")).failures, 0)
    }

    func testASuccessResetsTheCountAndANewPasswordLiftsALock() async throws {
        let users = try store(with: ["wes": "secret-one"])
        let guardian = SignInGuard(users: users, maxFailures: 2, lockoutSeconds: 600, bcryptCost: 4)
        _ = try await guardian.attempt(name: "wes", password: "wrong-one")
        _ = try await guardian.attempt(name: "wes", password: "secret-one")
        let once = try await guardian.attempt(name: "wes", password: "wrong-one")
        XCTAssertEqual(once, .refused)
        XCTAssertEqual(try XCTUnwrap(users.user(named: "wes")).lockedUntilUnixUs, 0, "one failure after a success does not lock")
        _ = try await guardian.attempt(name: "wes", password: "wrong-one")
        let locked = try await guardian.attempt(name: "wes", password: "secret-one")
        XCTAssertEqual(locked, .refused)
        try users.setPassword(name: "wes", passwordHash: Passwords.hash("secret-new", cost: 4))
        let reset = try await guardian.attempt(name: "wes", password: "secret-new")
        XCTAssertEqual(reset, .signedIn("wes"))
    }

    func testUnknownNameTakesAsLongAsAWrongPassword() async throws {
        // Cost 8 (about 20 ms a check) so the bcrypt time stands out of the noise.
        let users = try WebUserStore(dataDir: dir)
        try users.add(name: "rae", passwordHash: Passwords.hash("secret-one", cost: 8))
        let guardian = SignInGuard(users: users, maxFailures: 1000, lockoutSeconds: 60, bcryptCost: 8)
        // Interleaved and compared by median, so a load spike on the machine skews neither side.
        var known: [Double] = [], unknown: [Double] = []
        for _ in 0..<8 {
            for (name, into) in [("rae", 0), ("nobody", 1)] {
                let start = Date()
                _ = try await guardian.attempt(name: name, password: "wrong-one")
                if into == 0 { known.append(Date().timeIntervalSince(start)) } else { unknown.append(Date().timeIntervalSince(start)) }
            }
        }
        let k = known.sorted()[4], u = unknown.sorted()[4]
        XCTAssertGreaterThan(u, k * 0.5, "median known \(k) s, unknown \(u) s")
        XCTAssertLessThan(u, k * 2, "median known \(k) s, unknown \(u) s")
    }

    func testAFloodOfSignInsRunsBoundedChecksAndRefusesTheRestAtOnce() async throws {
        // Cost 10 (about 60 ms a check): all eight attempts arrive while the first runs.
        let users = try WebUserStore(dataDir: dir)
        try users.add(name: "rae", passwordHash: Passwords.hash("secret-one", cost: 10))
        let gate = PasswordCheckGate(concurrency: 1, maxWaiting: 2)
        let guardian = SignInGuard(users: users, maxFailures: 4, lockoutSeconds: 600, bcryptCost: 10, checks: gate)
        let outcomes = try await withThrowingTaskGroup(of: SignInGuard.Outcome.self) { group in
            for _ in 0..<8 { group.addTask { try await guardian.attempt(name: "rae", password: "wrong-one") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(gate.peakRunning, 1)
        XCTAssertEqual(outcomes.filter { $0 == .refused }.count, 3, "\(outcomes)")
        XCTAssertEqual(outcomes.filter { $0 == .busy }.count, 5, "\(outcomes)")
        // Only the three checked attempts counted as failures (four lock).
        let right = try await guardian.attempt(name: "rae", password: "secret-one")
        XCTAssertEqual(right, .signedIn("rae"))
    }

    func testUserRules() throws {
        let users = try store(with: [:])
        XCTAssertThrowsError(try users.add(name: "Ada", passwordHash: "x")) { XCTAssertEqual($0 as? WebUserError, .invalidName("Ada")) }
        XCTAssertThrowsError(try users.add(name: "", passwordHash: "x"))
        try users.add(name: "ada.l-1_x", passwordHash: "x")
        XCTAssertThrowsError(try users.add(name: "ada.l-1_x", passwordHash: "x")) {
            XCTAssertEqual($0 as? WebUserError, .exists("ada.l-1_x"))
        }
        XCTAssertThrowsError(try users.setPassword(name: "nobody", passwordHash: "x"))
        XCTAssertThrowsError(try WebUserStore.checkPassword("short"))
        XCTAssertThrowsError(try WebUserStore.checkPassword(String(repeating: "a", count: 73)))
        XCTAssertNoThrow(try WebUserStore.checkPassword(String(repeating: "a", count: 72)))
        XCTAssertEqual(try users.list().map(\.name), ["ada.l-1_x"])
        try users.remove(name: "ada.l-1_x")
        XCTAssertNil(try users.user(named: "ada.l-1_x"))
    }
}

final class SessionStoreTests: XCTestCase {
    func testIdleAndAbsoluteExpiry() {
        let store = SessionStore(idleSeconds: 10, maxSeconds: 25)
        let t0: Int64 = 1_000_000_000_000
        let s = store.create(user: "rae", now: t0)
        XCTAssertEqual(s.id.count, 64)
        XCTAssertNotEqual(s.id, s.csrfToken)
        XCTAssertEqual(store.session(id: s.id, now: t0 + 9_000_000)?.user, "rae")
        XCTAssertEqual(store.session(id: s.id, now: t0 + 18_000_000)?.user, "rae", "each use restarts the idle clock")
        XCTAssertNil(store.session(id: s.id, now: t0 + 26_000_000), "past the absolute lifetime")
        XCTAssertNil(store.session(id: s.id, now: t0 + 1), "gone once expired")
        let idle = store.create(user: "sam", now: t0)
        XCTAssertNil(store.session(id: idle.id, now: t0 + 10_000_001), "idle too long")
    }

    func testIdsAreFreshAndOnlyWellFormedOnesAreLookedUp() {
        let store = SessionStore(idleSeconds: 60, maxSeconds: 60)
        let a = store.create(user: "rae"), b = store.create(user: "rae")
        XCTAssertNotEqual(a.id, b.id)
        XCTAssertNil(store.session(id: a.id.uppercased()))
        XCTAssertNil(store.session(id: "../" + a.id))
        store.remove(id: a.id)
        XCTAssertNil(store.session(id: a.id))
        XCTAssertEqual(store.session(id: b.id)?.user, "rae")
    }

    func testListenParsing() {
        XCTAssertTrue(WebConfig.parseListen("127.0.0.1:8080")! == ("127.0.0.1", 8080))
        XCTAssertTrue(WebConfig.parseListen("[::1]:9000")! == ("::1", 9000))
        XCTAssertNil(WebConfig.parseListen("127.0.0.1"))
        XCTAssertNil(WebConfig.parseListen("127.0.0.1:0"))
        XCTAssertNil(WebConfig.parseListen("127.0.0.1:99999"))
        XCTAssertNil(WebConfig.parseListen(":8080"))
    }
}
