/* pages.c — the demo and admin pages: their HTML and JS are constant
 * strings here (a few KiB, no external assets); the admin's data comes from
 * the hub as JSON. The admin page wants the password (Basic auth, any user
 * name, SHA-256 compared in constant time) and TLS unless the peer is on a
 * loopback address; its send form posts JSON only (no cross-site form can). */
#include "tun/push/pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "proto/base64.h"
#include "proto/json.h"
#include "tun/push/api.h"
#include "tun/push/hub.h"
#include "tun/push/req.h"

#define PAGE_STATS_MAX (60 * 1024) /* the admin's JSON fits one reply buffer */

static const char demo_head[] =
	"<!doctype html><html><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width\"><title>Push demo</title><style>"
	"body{font:15px system-ui,sans-serif;margin:2em;background:#f6f7f9;color:#222}"
	"#s{color:#777}#t{position:fixed;right:1em;top:1em;width:22em}"
	".toast{background:#223;color:#fff;padding:.8em 1em;margin-bottom:.6em;border-radius:6px;"
	"box-shadow:0 2px 8px #0003;transition:opacity .5s}"
	".toast b{display:block;font-size:12px;color:#9bd}"
	"</style></head><body data-push=\"";
static const char demo_tail[] =
	"\"><h1>Push demo</h1><p id=\"s\">connecting\xe2\x80\xa6</p>"
	"<p>Messages POSTed to this server appear here as toasts.</p><div id=\"t\"></div><script>"
	"var s=document.getElementById('s'),t=document.getElementById('t');"
	"function toast(m){var d=document.createElement('div'),b=document.createElement('b');"
	"d.className='toast';b.textContent=(m.sender||'message')+(m.topic?' #'+m.topic:'');"
	"d.appendChild(b);d.appendChild(document.createTextNode(typeof m.message=='string'?"
	"m.message:JSON.stringify(m.message)));t.prepend(d);setTimeout(function(){"
	"d.style.opacity=0;setTimeout(function(){d.remove()},600)},8000)}"
	"function go(){var w=new WebSocket((location.protocol=='https:'?'wss://':'ws://')+"
	"location.host+document.body.dataset.push+location.search);"
	"w.onopen=function(){s.textContent='connected'};"
	"w.onmessage=function(e){try{toast(JSON.parse(e.data))}catch(x){}};"
	"w.onclose=function(){s.textContent='disconnected, retrying';setTimeout(go,2000)}}"
	"go();</script></body></html>\n";

static const char admin_page[] =
	"<!doctype html><html><head><meta charset=\"utf-8\"><title>Push admin</title><style>"
	"body{font:15px system-ui,sans-serif;margin:2em;color:#222}"
	".n{font-size:2.5em;font-weight:bold}table{border-collapse:collapse;width:100%}"
	"td,th{border-bottom:1px solid #ddd;padding:.3em;text-align:left;font-size:13px}"
	"form{margin:1em 0}input{margin-right:.5em}</style></head><body><h1>Push admin</h1>"
	"<p><span class=\"n\" id=\"subs\">-</span> subscribers &middot; <span id=\"msgs\">-</span>"
	" messages since start</p><form id=\"f\"><input id=\"m\" placeholder=\"message\" required>"
	"<input id=\"snd\" placeholder=\"sender\" value=\"admin\"><input id=\"tp\" "
	"placeholder=\"topic\"><button>Send</button> <span id=\"r\"></span></form>"
	"<h2>Latest messages</h2><table><thead><tr><th>time (UTC)</th><th>from</th><th>topic</th>"
	"<th>sender</th><th>message</th></tr></thead><tbody id=\"l\"></tbody></table><script>"
	"var base=location.pathname.replace(/\\/$/,'');"
	"function $(i){return document.getElementById(i)}"
	"function cell(r,v){var c=document.createElement('td');c.textContent=v==null?'':v;"
	"r.appendChild(c)}"
	"function load(){fetch(base+'/stats',{cache:'no-store'}).then(function(r){return r.json()})"
	".then(function(j){$('subs').textContent=j.subscribers;$('msgs').textContent=j.messages;"
	"var l=$('l');l.textContent='';j.recent.forEach(function(x){"
	"var r=document.createElement('tr'),m=x.m||{};cell(r,x.time);cell(r,x.ip);cell(r,x.topic);"
	"cell(r,m.sender);cell(r,typeof m.message=='string'?m.message:JSON.stringify(m.message));"
	"l.appendChild(r)})})}"
	"$('f').onsubmit=function(e){e.preventDefault();fetch(base+'/send',{method:'POST',"
	"headers:{'Content-Type':'application/json'},body:JSON.stringify({message:$('m').value,"
	"sender:$('snd').value,topic:$('tp').value})}).then(function(r){return r.json()})"
	".then(function(j){$('r').textContent=j.error?j.error:'delivered to '+j.delivered;"
	"$('m').value='';load()})};load();setInterval(load,1000);</script></body></html>\n";

size_t push_pages_bytes(void)
{
	return sizeof(demo_head) + sizeof(demo_tail) + sizeof(admin_page) - 3;
}

static const char html[] = "text/html; charset=utf-8";
static const char page_headers[] =
	"Content-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; "
	"style-src 'unsafe-inline'; connect-src 'self' ws: wss:\r\n"
	"X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n";

static void page_error(struct push_req *r, int status, const char *extra, const char *why)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", why);
	push_req_reply(r, status, "application/json", extra, body, (size_t)n);
}

void push_pages_demo(struct push_hub *hub, struct push_req *r)
{
	char page[sizeof(demo_head) + sizeof(demo_tail) + 256];
	if (!push_req_method(r, "GET") && !push_req_method(r, "HEAD")) {
		page_error(r, 405, "Allow: GET\r\n", "use GET");
		return;
	}
	/* the push path holds only [A-Za-z0-9/._~-] (bin/): safe in an attribute */
	int n = snprintf(page, sizeof(page), "%s%s%s", demo_head, hub->cfg->path, demo_tail);
	push_req_reply(r, 200, html, page_headers, page, (size_t)n);
}

/* Basic auth: any user name, the password of --admin-password-file. */
static bool admin_authorized(const struct push_hub *hub, const struct push_req *r)
{
	struct http_slice a = push_req_header(r, "Authorization");
	uint8_t creds[512];
	if (a.len < 7 || strncasecmp(a.p, "Basic ", 6) != 0)
		return false;
	long n = base64_decode(a.p + 6, a.len - 6, creds, sizeof(creds));
	const uint8_t *colon = n > 0 ? memchr(creds, ':', (size_t)n) : NULL;
	if (!colon)
		return false;
	size_t off = (size_t)(colon + 1 - creds);
	return push_key_match(hub->cfg->admin_hash, (const char *)creds + off, (size_t)n - off);
}

static bool path_is(struct http_slice path, const char *base, const char *tail)
{
	size_t bn = strlen(base), tn = strlen(tail);
	return path.len == bn + tn && memcmp(path.p, base, bn) == 0 &&
	       memcmp(path.p + bn, tail, tn) == 0;
}

static void admin_stats(struct push_hub *hub, struct push_req *r)
{
	char *out = malloc(PAGE_STATS_MAX);
	if (!out) {
		page_error(r, 503, NULL, "out of memory");
		return;
	}
	int n = snprintf(out, PAGE_STATS_MAX,
	                 "{\"subscribers\":%zu,\"messages\":%llu,\"refused_per_ip\":%llu,"
	                 "\"closed_slow\":%llu,\"recent\":[",
	                 hub->nsubs, (unsigned long long)hub->messages,
	                 (unsigned long long)hub->refused_ip, (unsigned long long)hub->closed_slow);
	size_t len = (size_t)n;
	/* newest first, as many as fit; the page shows them newest on top */
	for (unsigned i = 0; i < PUSH_RECENT; i++) {
		const struct push_recent *e = &hub->recent[(hub->recent_next + PUSH_RECENT - 1 - i) %
		                                           PUSH_RECENT];
		char topic[6 * PUSH_TOPIC_MAX + 3];
		if (!e->json)
			continue;
		size_t tn = push_json_quote(topic, sizeof(topic), e->topic, strlen(e->topic));
		size_t need = strlen(e->json) + tn + 128;
		if (len + need + 3 > PAGE_STATS_MAX)
			break;
		len += (size_t)snprintf(out + len, PAGE_STATS_MAX - len,
		                        "%s{\"time\":\"%s\",\"ip\":\"%s\",\"topic\":%.*s,\"m\":%s}",
		                        out[len - 1] == '[' ? "" : ",", e->time, e->ip,
		                        (int)tn, topic, e->json);
	}
	memcpy(out + len, "]}", 2);
	push_req_reply(r, 200, "application/json", NULL, out, len + 2);
	free(out);
}

/* The send form: {"message": ..., "sender": ..., "topic": ...}. */
static void admin_send(struct push_hub *hub, struct push_req *r)
{
	struct http_slice type = push_req_header(r, "Content-Type");
	if (type.len < 16 || strncasecmp(type.p, "application/json", 16) != 0) {
		page_error(r, 415, NULL, "send application/json");
		return;
	}
	struct push_msg m;
	enum push_rc rc = push_msg_parse(push_req_body(r), r->body_len, true, &m);
	char topic[PUSH_TOPIC_MAX + 1] = "", raw[PUSH_TOPIC_MAX + 16] = "?topic=";
	enum json_type top;
	struct json_value tv;
	json_get(push_req_body(r), r->body_len, "topic", &top, &tv);
	if (rc == PUSH_OK && tv.type == JSON_STRING && tv.raw_len > 2) {
		size_t n = 0;
		if (json_string(&tv, raw + 7, sizeof(raw) - 7, &n) != JSON_OK ||
		    push_topic(raw, 7 + n, topic) < 0)
			rc = PUSH_ERR_TOPIC;
	}
	if (rc != PUSH_OK) {
		page_error(r, 400, NULL, push_strerror(rc));
		return;
	}
	log_info("c%u push: admin sent a message%s%s", r->link.id, *topic ? " on topic " : "", topic);
	push_api_broadcast(hub, r, &m, topic, true);
}

void push_pages_admin(struct push_hub *hub, struct push_req *r)
{
	const char *base = hub->cfg->admin_path;
	if (!r->tls && !net_addr_is_loopback(&r->addr)) {
		page_error(r, 403, NULL, "the admin page needs https (or a loopback address)");
		return;
	}
	if (!admin_authorized(hub, r)) {
		if (push_req_header(r, "Authorization").len)
			log_info("c%u push: admin page: wrong password", r->link.id);
		page_error(r, 401, "WWW-Authenticate: Basic realm=\"admin\", charset=\"UTF-8\"\r\n",
		           "the admin password is needed");
		return;
	}
	bool get = push_req_method(r, "GET");
	if (get && path_is(r->path, base, ""))
		push_req_reply(r, 200, html, page_headers, admin_page, sizeof(admin_page) - 1);
	else if (get && path_is(r->path, base, "/stats"))
		admin_stats(hub, r);
	else if (push_req_method(r, "POST") && path_is(r->path, base, "/send"))
		admin_send(hub, r);
	else
		page_error(r, 405, "Allow: GET, POST\r\n", "GET the page or /stats, POST /send");
}
