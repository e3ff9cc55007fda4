<?php
// A chan back end's side of the tidings HTTP API (protocol-spec/http.md),
// in the chan's own stack: PHP with its curl extension. It posts a thread
// and two replies (a multipart form to /{board}/post, as 4chan's post form
// was, and JSON to /api/v1/posts), then reads them back through the chan
// API and the native one, and checks a refusal and an ETag.
//
// usage: php chan_client.php HOST:PORT BOARD
// Prints "ok THREAD-NUMBER MESSAGE-ID" and exits 0, or says what differed
// on stderr and exits 1.

declare(strict_types=1);

if ($argc !== 3) {
    fwrite(STDERR, "usage: php chan_client.php HOST:PORT BOARD\n");
    exit(2);
}
[, $base, $board] = $argv;

function fail(string $message): never
{
    fwrite(STDERR, $message . "\n");
    exit(1);
}

/** One request; returns [status, headers (lower-case names), decoded JSON or null]. */
function call(string $method, string $path, $body = null, array $headers = []): array
{
    global $base;
    $ch = curl_init("http://$base$path");
    $seen = [];
    curl_setopt_array($ch, [
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 20,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_HEADERFUNCTION => function ($ch, string $line) use (&$seen): int {
            $parts = explode(':', $line, 2);
            if (count($parts) === 2) {
                $seen[strtolower(trim($parts[0]))] = trim($parts[1]);
            }
            return strlen($line);
        },
    ]);
    if ($body !== null) {
        // An array is sent as multipart/form-data, as a PHP form post is.
        curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
    }
    $text = curl_exec($ch);
    if ($text === false) {
        fail("$method $path: " . curl_error($ch));
    }
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    curl_close($ch);
    return [$status, $seen, $text === '' ? null : json_decode($text, true)];
}

function expect_status(string $what, int $want, array $answer): array
{
    [$status, , $json] = $answer;
    if ($status !== $want) {
        fail("$what: $status " . json_encode($json) . ", want $want");
    }
    return $json ?? [];
}

// A thread, from a multipart form with 4chan's field names.
$thread = expect_status('new thread', 201, call('POST', "/$board/post", [
    'name' => 'PHP',
    'sub' => 'posted from PHP',
    'com' => "hello from php-cli\nsecond line & <markup>",
    'mode' => 'regist',
]));
$no = $thread['no'];
$op_id = $thread['message_id'];
if ($thread['status'] !== 'filed' || !is_int($no)) {
    fail('new thread: ' . json_encode($thread));
}

// Replies: a form with resto, and JSON.
expect_status('form reply', 201, call('POST', "/$board/post", [
    'com' => 'a form reply',
    'resto' => (string) $no,
]));
$reply = expect_status('json reply', 201, call(
    'POST',
    '/api/v1/posts',
    json_encode(['board' => $board, 'thread' => $no, 'name' => 'PHP', 'body' => 'a json reply']),
    ['Content-Type: application/json']
));

// The chan API: the thread, and its catalog entry.
$posts = expect_status('thread', 200, call('GET', "/$board/thread/$no.json"))['posts'] ?? [];
$coms = array_map(fn ($p) => $p['com'], $posts);
$want = ['hello from php-cli<br>second line &amp; &lt;markup&gt;', 'a form reply', 'a json reply'];
if ($coms !== $want) {
    fail('thread coms: ' . json_encode($coms));
}
if ($posts[0]['sub'] !== 'posted from PHP' || $posts[0]['name'] !== 'PHP' || $posts[0]['resto'] !== 0
    || $posts[1]['resto'] !== $no || $posts[2]['name'] !== 'PHP') {
    fail('thread posts: ' . json_encode($posts));
}
$found = null;
foreach (expect_status('catalog', 200, call('GET', "/$board/catalog.json")) as $page) {
    foreach ($page['threads'] as $entry) {
        if ($entry['no'] === $no) {
            $found = $entry;
        }
    }
}
if ($found === null || $found['replies'] !== 2 || count($found['last_replies']) !== 2) {
    fail('catalog entry: ' . json_encode($found));
}

// The native API: the JSON reply by Message-ID, threaded under the thread.
$article = expect_status('article', 200, call('GET', '/api/v1/articles/' . rawurlencode($reply['message_id'])));
$references = null;
foreach ($article['headers'] as [$name, $value]) {
    if (strcasecmp($name, 'References') === 0) {
        $references = $value;
    }
}
if ($article['status'] !== 'filed' || $references !== $op_id) {
    fail('article: ' . json_encode($article));
}

// A refusal carries a reason; an unchanged thread is 304 for its ETag.
$refused = expect_status('empty post', 400, call('POST', "/$board/post", ['com' => '  ']));
if (strpos($refused['reason'] ?? '', 'no text') === false) {
    fail('empty post reason: ' . json_encode($refused));
}
[, $headers] = call('GET', "/$board/thread/$no.json");
[$status] = call('GET', "/$board/thread/$no.json", null, ['If-None-Match: ' . ($headers['etag'] ?? 'none')]);
if ($status !== 304) {
    fail("If-None-Match: $status, want 304");
}

echo "ok $no $op_id\n";
