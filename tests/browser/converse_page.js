// Starts Converse.js with the settings the driver put in window.PARLEY_CONVERSE.
// Everything that would reach beyond the test's loopback servers is switched off, so the
// page talks only to parleyd's WebSocket and to the static server it came from.
(function () {
  const cfg = window.PARLEY_CONVERSE || {};
  converse.initialize({
    assets_path: 'node_modules/converse.js/dist/',
    websocket_url: cfg.websocket_url,
    // RFC 7395 section 4 names no discovery; XEP-0156 (host-meta) would be a fetch to the
    // JID's domain, which is not where the test's static page comes from.
    discover_connection_methods: false,
    jid: cfg.jid,
    password: cfg.password,
    auto_login: true,
    auto_reconnect: false,
    authentication: 'login',
    auto_join_rooms: cfg.room ? [{ jid: cfg.room, nick: cfg.nick }] : [],
    view_mode: 'fullscreen',
    persistent_store: 'sessionStorage',
    clear_cache_on_logout: true,
    play_sounds: false,
    show_desktop_notifications: false,
    fetch_url_headers: false,
    show_images_inline: false,
    embed_3rd_party_media_players: false,
    allow_url_history_change: false,
    muc_fetch_members: false,
    loglevel: cfg.loglevel || 'info',
  });
})();
