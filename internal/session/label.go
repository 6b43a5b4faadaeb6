package session

import "strings"

// Label names the device of a user agent for people, such as "Firefox on
// Linux" or "Safari on iOS": the browser (or client) and the operating
// system, each "Unknown" when not recognised. It reads only well-known
// tokens; a label is a hint shown in a session list, never a security
// decision (a client can send any user agent).
func Label(ua string) string {
	return browser(ua) + " on " + system(ua)
}

// browser names the browser of ua. The order matters: Edge and Opera also
// say Chrome, Chrome also says Safari.
func browser(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
		{"OPR/", "Opera"}, {"Opera", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go client"}, {"okhttp/", "OkHttp"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return "Unknown browser"
}

// system names the operating system of ua.
func system(ua string) string {
	for _, s := range []struct{ token, name string }{
		{"Android", "Android"},
		{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"iPod", "iOS"},
		{"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"Macintosh", "macOS"},
		{"CrOS", "ChromeOS"},
		{"Linux", "Linux"}, {"FreeBSD", "FreeBSD"},
	} {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return "Unknown system"
}
