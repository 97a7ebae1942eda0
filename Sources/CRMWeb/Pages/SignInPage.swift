/// The sign-in page, which `/` answers to a visitor without a session.
enum SignInPage {
    /// One message for a wrong password, an unknown name and a locked
    /// name, so the page tells an attacker none of them apart.
    static let refusal = "Wrong name or password, or too many failed attempts: wait a while before trying again."
    static let busy = "Too many sign-ins at this moment: try again in a second."

    static func render(formToken: String, name: String = "", error: String? = nil) -> String {
        let message = error.map { "<p class=\"error\" id=\"signin-error\" role=\"alert\">\(HTML.esc($0))</p>" } ?? ""
        return HTML.page(title: "Sign in", session: nil, body: """
            <h1>Sign in</h1>\(message)
            <form method="post" action="/signin" class="signin" id="signin-form">
            <input type="hidden" name="csrf" value="\(HTML.esc(formToken))">
            <label for="name">Name</label><input id="name" name="name" autocomplete="username" required value="\(HTML.esc(name))" autofocus>
            <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit" id="signin">Sign in</button>
            </form>
            """)
    }
}
