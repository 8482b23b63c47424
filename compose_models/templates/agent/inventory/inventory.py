"""The agent's tool: a small stock service, reached over HTTP.

GET /items          -> the items it knows, {"items": [...]}
GET /stock?item=X   -> {"item": X, "stock": N}; 404 for an item it does not know
GET /calls          -> how many /stock calls it answered

Every /stock call is logged (`inventory: stock(item=X) -> N`), so `docker compose logs inventory` shows what
the agent asked. Replace STOCK with your own system's lookup."""

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Numbers no model would guess: seeing one in the agent's answer means the tool was called.
STOCK = {"widgets": 4173, "gears": 2958, "bolts": 6071}
calls = 0


async def items(request: Request) -> JSONResponse:
    return JSONResponse({"items": sorted(STOCK)})


async def stock(request: Request) -> JSONResponse:
    global calls
    calls += 1
    item = request.query_params.get("item", "")
    if item not in STOCK:
        print(f"inventory: stock(item={item!r}) -> unknown item", flush=True)
        return JSONResponse({"error": f"unknown item {item!r}; known items: {', '.join(sorted(STOCK))}"}, 404)
    print(f"inventory: stock(item={item}) -> {STOCK[item]}", flush=True)
    return JSONResponse({"item": item, "stock": STOCK[item]})


async def call_count(request: Request) -> JSONResponse:
    return JSONResponse({"calls": calls})


app = Starlette(routes=[Route("/items", items), Route("/stock", stock), Route("/calls", call_count)])

if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=8000, log_level="warning")
