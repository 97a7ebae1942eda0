/// HTML text, escaped where it is built: every value from crmd or the
/// browser goes through `esc` (or `attr`) before it reaches a page.
enum HTML {
    /// Text content and attribute values (quoted with "): & < > " ' escaped.
    static func esc(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A page: the header (with sign-out when signed in), then `body`.
    /// Scripts and styles are files of crm-web's own (the CSP allows no inline script).
    static func page(title: String, session: WebSession?, body: String) -> String {
        var header = "<header><a class=\"brand\" href=\"/\">CRM</a>"
        if let session {
            header += """
                <span class="who" id="who">\(esc(session.user))</span>\
                <form method="post" action="/signout" class="signout">\
                <input type="hidden" name="csrf" value="\(esc(session.csrfToken))">\
                <button type="submit" id="signout">Sign out</button></form>
                """
        }
        header += "</header>"
        let csrfMeta = session.map { "<meta name=\"csrf-token\" content=\"\(esc($0.csrfToken))\">" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">\(csrfMeta)
            <title>\(esc(title)) · CRM</title>
            <link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script>
            </head><body>\(header)<main>
            \(body)
            </main></body></html>
            """
    }

    /// "2026-12-02 18:40 UTC" from UTC microseconds.
    static func time(_ unixUs: Int64) -> String {
        guard unixUs > 0 else { return "" }
        let seconds = unixUs / 1_000_000
        let days = seconds / 86_400, rest = seconds % 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(rest / 3600)):\(two(rest % 3600 / 60)) UTC"
    }
}
