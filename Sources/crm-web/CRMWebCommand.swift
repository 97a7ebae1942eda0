import ArgumentParser
import CRMClient
import CRMWeb
import Foundation

@main
struct CRMWebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-web",
        abstract: "The CRM's web console: a client of crmd's socket serving HTTP.",
        discussion: "See docs/WEB.md. crmd must trust crm-web's uid as a proxy (crmd --trusted-proxy-uid).",
        subcommands: [Serve.self, Users.self],
        defaultSubcommand: Serve.self)
}

struct DataDir: ParsableArguments {
    @Option(help: "Folder of crm-web's own database (web.db: web users and their sign-in failures).")
    var dataDir = "./web-data"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the console (the default).")

    @Option(help: "crmd's socket (default: CRM_SOCKET, else ./crm.sock).")
    var socket: String?
    @Option(help: "HOST:PORT to serve HTTP on. TLS is not served yet: put a TLS proxy in front.")
    var listen = "127.0.0.1:8080"
    @OptionGroup var data: DataDir
    @Option(help: "bcrypt cost of the stand-in check for an unknown name (match the users' hashes).")
    var bcryptCost: UInt8 = 12
    @Flag(help: "Mark the session cookie Secure (behind a TLS proxy).")
    var secureCookies = false
    @Option(help: "The origin browsers use, e.g. https://crm.example.com (default: the request's Host).")
    var publicOrigin: String?
    @Option(help: "A session ends after this many seconds without a request.")
    var sessionIdleSeconds: Int64 = 1800
    @Option(help: "A session ends this many seconds after sign-in, however busy.")
    var sessionMaxSeconds: Int64 = 43200
    @Option(help: "Failed sign-ins in a row that lock a name.")
    var lockoutFailures = 5
    @Option(help: "How long a locked name stays locked, in seconds.")
    var lockoutSeconds: Int64 = 900
    @Option(help: "The CRM user survey links (/service/survey) are answered as: a role with service.survey.respond only (default: not served).")
    var surveyUser: String?

    func validate() throws {
        guard WebConfig.parseListen(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        guard Passwords.costs.contains(bcryptCost) else { throw ValidationError("--bcrypt-cost must be 4 to 16") }
        guard sessionIdleSeconds > 0, sessionMaxSeconds > 0, lockoutSeconds > 0, lockoutFailures > 0 else {
            throw ValidationError("session and lockout limits must be positive")
        }
    }

    func run() async throws {
        var config = WebConfig(socketPath: socket ?? Connection.defaultSocketPath)
        let (host, port) = WebConfig.parseListen(listen)!
        config.host = host
        config.port = port
        config.dataDir = data.dataDir
        config.bcryptCost = bcryptCost
        config.secureCookies = secureCookies
        config.publicOrigin = publicOrigin
        config.sessionIdleSeconds = sessionIdleSeconds
        config.sessionMaxSeconds = sessionMaxSeconds
        config.lockoutFailures = lockoutFailures
        config.lockoutSeconds = lockoutSeconds
        config.surveyUser = surveyUser
        try await WebApp(config: config).run()
    }
}

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage web users (each signs in as the CRM user of the same name: create it with crmctl access users --add).",
        subcommands: [Add.self, Passwd.self, List.self, Remove.self])

    struct PasswordSource: ParsableArguments {
        @Flag(help: "Read the password from the first line of standard input instead of asking twice.")
        var passwordStdin = false
        @Option(help: "bcrypt cost (4-16; each step doubles the time of a check).")
        var bcryptCost: UInt8 = 12

        func read(for name: String) throws -> String {
            let password: String
            if passwordStdin || isatty(0) == 0 {
                guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
                password = line
            } else {
                guard let first = getpass("Password for \(name): ").map({ String(cString: $0) }),
                      let second = getpass("Again: ").map({ String(cString: $0) }) else {
                    throw ValidationError("no password given")
                }
                guard first == second else { throw ValidationError("the two passwords differ") }
                password = first
            }
            do { try WebUserStore.checkPassword(password) } catch { throw ValidationError("\(error)") }
            return password
        }

        func validate() throws {
            guard Passwords.costs.contains(bcryptCost) else { throw ValidationError("--bcrypt-cost must be 4 to 16") }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a web user.")
        @Argument(help: "The name, also the CRM user's.") var name: String
        @OptionGroup var password: PasswordSource
        @OptionGroup var data: DataDir

        func run() throws {
            guard WebUserStore.isValidName(name) else { throw ValidationError("\(WebUserError.invalidName(name))") }
            let store = try WebUserStore(dataDir: data.dataDir)
            if try store.user(named: name) != nil { throw ValidationError("\(WebUserError.exists(name))") }
            let secret = try password.read(for: name)
            try store.add(name: name, passwordHash: Passwords.hash(secret, cost: password.bcryptCost))
            print("added web user \(name)")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a web user's password (also lifts a lockout).")
        @Argument var name: String
        @OptionGroup var password: PasswordSource
        @OptionGroup var data: DataDir

        func run() throws {
            let store = try WebUserStore(dataDir: data.dataDir)
            guard try store.user(named: name) != nil else { throw ValidationError("\(WebUserError.notFound(name))") }
            let secret = try password.read(for: name)
            try store.setPassword(name: name, passwordHash: Passwords.hash(secret, cost: password.bcryptCost))
            print("password of web user \(name) set")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the web users: name, created, and whether locked now.")
        @OptionGroup var data: DataDir

        func run() throws {
            let store = try WebUserStore(dataDir: data.dataDir)
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            var after = ""
            while true {
                let page = try store.list(after: after, limit: 500)
                for user in page {
                    let created = Date(timeIntervalSince1970: Double(user.createdUnixUs) / 1_000_000)
                    let locked = user.lockedUntilUnixUs > now ? "  locked" : ""
                    print("\(user.name)\t\(created.ISO8601Format())\(locked)")
                }
                guard let last = page.last, page.count == 500 else { break }
                after = last.name
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a web user (their open sessions end at their next request).")
        @Argument var name: String
        @OptionGroup var data: DataDir

        func run() throws {
            let store = try WebUserStore(dataDir: data.dataDir)
            do { try store.remove(name: name) } catch { throw ValidationError("\(error)") }
            print("removed web user \(name)")
        }
    }
}
