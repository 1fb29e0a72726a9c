<h1>Not found</h1>
<p><a href="/">Start over</a></p>
